"""Host tests of userland/bin/httpd.c and userland/bin/kvd.c, built against
glibc (make -C userland host-servers, with userland/test/dmhost.c for libdm)
and driven by real clients on 127.0.0.1 only: curl and ab for httpd, plain
sockets for the protocol corners and for kvd.

httpd: GET, HEAD, keep-alive reuse, pipelining, HTTP/1.0, every error
status with its limit, path traversal refused, /status and /work (checked
against the same xorshift computed here), the idle timeout, many
connections at once, ab -k with no failure, the counts line at SIGTERM.
kvd: two servers sharing one segment file (a SET through one is a GET
through the other), every ERROR reply, oversize lines, a full store, many
clients, and the lock repair rule: a group locked by a dead process, or by
a live process that is not kvd, with a SET half done (its intent
published), is taken over, the SET redone and the keys recounted. The
segment's layout below is kvd.c's (and dmhost.c's header page).
"""

import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, "build", "userland", "host-servers")
HTTPD = os.path.join(BIN, "httpd")
KVD = os.path.join(BIN, "kvd")

need_curl = pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
need_ab = pytest.mark.skipif(not shutil.which("ab"), reason="ab (apache2-utils) is not installed")


@pytest.fixture(scope="module", autouse=True)
def build():
    subprocess.run(["make", "-s", "-C", os.path.join(REPO, "userland"), "host-servers"], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free port; its first line says it listens."""

    def __init__(self, argv, env=None, want=r"listening on port (\d+)", fds=None):
        self.port = free_port()

        def limit():    # as few descriptors as a dmos process has
            resource.setrlimit(resource.RLIMIT_NOFILE, (fds, fds))
        self.proc = subprocess.Popen(argv + ["-p", str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **(env or {})),
                                     preexec_fn=limit if fds else None)
        self.lines = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("server exited: %s %s" % (self.lines, self.proc.stderr.read()))
            self.lines.append(line.rstrip("\n"))
            if re.search(want, line):
                return
        raise AssertionError("no listening line: %s" % self.lines)

    def stop(self):
        """SIGTERM; Return: what it printed after the listening line, its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=10)
        return out, err, self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)


def http_raw(port, data, timeout=5.0):
    """Send data, return all bytes received until the server closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    s.close()
    return got


def recv_until(sock, end):
    """Bytes from sock up to and with the first that end with end."""
    got = b""
    while not got.endswith(end):
        b = sock.recv(4096)
        assert b, got
        got += b
    return got


def responses(data):
    """Split a byte stream of HTTP responses: [(status, headers dict, body)]."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data[:200]
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", 0))
        body, data = rest[:n], rest[n:]
        out.append((status, hdrs, body))
    return out


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True)
    return r


def work_ref(n):
    x = 0x9E3779B97F4A7C15
    m = (1 << 64) - 1
    for _ in range(n):
        x ^= (x << 13) & m
        x ^= x >> 7
        x ^= (x << 17) & m
    return x


# ---- httpd ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def docroot(tmp_path_factory):
    top = tmp_path_factory.mktemp("www")
    root = top / "root"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<h1>dmos</h1>\n")
    (root / "a.txt").write_text("hello\n")
    (root / "sub" / "index.html").write_text("sub index\n")
    (root / "style.css").write_text("body{}\n")
    (root / "noext").write_bytes(b"\x00\x01\x02")
    big = bytes((i * 7 + i // 251) & 0xFF for i in range(3 * 1024 * 1024 + 17))
    (root / "big.bin").write_bytes(big)
    (root / "emptydir").mkdir()
    (top / "secret.txt").write_text("TOP SECRET\n")
    return root


@pytest.fixture(scope="module")
def httpd(docroot):
    s = Server([HTTPD, "-r", str(docroot)], env={"DMOS_NODE": "3"})
    assert s.lines[-1] == "httpd: node 3 listening on port %d, root %s" % (s.port, docroot)
    yield s
    out, err, rc = s.stop()
    assert rc == 0, err
    assert re.search(r"^httpd: node 3 served \d+ requests \(\d+ errors\) on \d+ connections", out, re.M), out


@need_curl
def test_get_file(httpd):
    r = curl("-i", "http://127.0.0.1:%d/a.txt" % httpd.port)
    assert r.returncode == 0, r.stderr
    (status, hdrs, body), = responses(r.stdout)
    assert status == 200 and body == b"hello\n"
    assert hdrs["content-type"].startswith("text/plain")
    assert hdrs["content-length"] == "6"
    assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", hdrs["last-modified"])
    assert hdrs["x-node"] == "3" and "date" in hdrs


@need_curl
def test_content_types_and_index(httpd, docroot):
    for path, ctype in (("/", "text/html"), ("/style.css", "text/css"),
                        ("/noext", "application/octet-stream"), ("/sub/", "text/html")):
        r = curl("-s", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                 "http://127.0.0.1:%d%s" % (httpd.port, path))
        code, ct = r.stdout.decode().split(" ", 1)
        assert code == "200" and ct.startswith(ctype), (path, r.stdout)
    r = curl("http://127.0.0.1:%d/big.bin" % httpd.port)
    assert r.stdout == (docroot / "big.bin").read_bytes()


@need_curl
def test_head(httpd):
    r = curl("-I", "http://127.0.0.1:%d/big.bin" % httpd.port)
    (status, hdrs, _), = responses(r.stdout)
    assert status == 200 and hdrs["content-length"] == str(3 * 1024 * 1024 + 17)
    # HEAD sends no body even though it names the length: the next response follows at once.
    got = http_raw(httpd.port, b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, sep, rest = got.partition(b"\r\n\r\n")
    assert b"Content-Length: 6" in head and rest.startswith(b"HTTP/1.1 200 OK"), got
    assert rest.endswith(b"\r\n\r\nhello\n")


@need_curl
def test_keepalive_reuse(httpd):
    url = "http://127.0.0.1:%d/a.txt" % httpd.port
    r = curl("-v", url, url, "http://127.0.0.1:%d/sub/" % httpd.port)
    err = r.stderr.decode()
    assert r.returncode == 0 and r.stdout == b"hello\nhello\nsub index\n", err
    assert err.count("Re-using existing connection") == 2, err


@need_curl
def test_404_and_redirect(httpd):
    r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/nope.html" % httpd.port)
    assert r.stdout == b"404"
    r = curl("-i", "http://127.0.0.1:%d/emptydir/" % httpd.port)   # no index.html: no listing
    assert responses(r.stdout)[0][0] == 404
    r = curl("-i", "http://127.0.0.1:%d/sub" % httpd.port)
    (status, hdrs, _), = responses(r.stdout)
    assert status == 301 and hdrs["location"] == "/sub/"


@need_curl
def test_traversal_refused(httpd):
    for path in ("/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt",
                 "/sub/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt"):
        r = curl("-i", "--path-as-is", "http://127.0.0.1:%d%s" % (httpd.port, path))
        assert b"TOP SECRET" not in r.stdout, path
        assert responses(r.stdout)[0][0] == 400, (path, r.stdout[:100])
    # Dot segments that stay inside the root are fine.
    r = curl("--path-as-is", "http://127.0.0.1:%d/sub/../a.txt" % httpd.port)
    assert r.stdout == b"hello\n"
    r = curl("--path-as-is", "http://127.0.0.1:%d/./sub//./index.html" % httpd.port)
    assert r.stdout == b"sub index\n"


def test_pipelined_in_order(httpd):
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                    for p in (b"/a.txt", b"/nope", b"/sub/", b"/big.bin", b"/a.txt"))
    reqs += b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = responses(http_raw(httpd.port, reqs))
    assert [s for s, _, _ in got] == [200, 404, 200, 200, 200, 200]
    assert got[0][2] == b"hello\n" and got[2][2] == b"sub index\n" and got[5][2] == b"body{}\n"
    assert len(got[3][2]) == 3 * 1024 * 1024 + 17
    assert got[5][1]["connection"] == "close"


def test_http10(httpd):
    # HTTP/1.0: closed after one response unless keep-alive is asked for.
    got = http_raw(httpd.port, b"GET /a.txt HTTP/1.0\r\n\r\nGET /a.txt HTTP/1.0\r\n\r\n")
    assert len(responses(got)) == 1 and responses(got)[0][1]["connection"] == "close"
    got = http_raw(httpd.port, b"GET /a.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
                               b"GET /a.txt HTTP/1.0\r\n\r\n")
    rs = responses(got)
    assert len(rs) == 2 and rs[0][1]["connection"] == "keep-alive" and rs[1][2] == b"hello\n"


@pytest.mark.parametrize("req,status", [
    (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405),
    (b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /a.txt HTTP/1.1\r\n\r\n", 400),                     # no Host
    (b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /a.txt\r\n\r\n", 400),                              # no version
    (b"GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400),           # not a path
    (b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", 413),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /" + b"a" * 1200 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # decoded path over 1000
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"y" * 9000 + b"\r\n\r\n", 431),
    (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(70)) + b"\r\n", 431),
])
def test_errors(httpd, req, status):
    got = responses(http_raw(httpd.port, req))
    assert got[0][0] == status, got[0]
    assert got[0][2].startswith(b"%d " % status)
    if status == 405:
        assert got[0][1]["allow"] == "GET, HEAD"
    else:   # these close the connection after the error
        assert got[0][1]["connection"] == "close" and len(got) == 1


def test_405_keeps_connection_and_drops_body(httpd):
    got = responses(http_raw(httpd.port, b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                                         b"GET /GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert [s for s, _, _ in got] == [405, 200] and got[1][2] == b"hello\n"


def test_absolute_form(httpd):
    got = responses(http_raw(httpd.port, b"GET http://example/a.txt HTTP/1.1\r\nHost: example\r\n"
                                         b"Connection: close\r\n\r\n"))
    assert got[0][0] == 200 and got[0][2] == b"hello\n"


def test_status_and_work(httpd):
    def get(path):
        (s, h, b), = responses(http_raw(httpd.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                        % path.encode()))
        return s, b.decode()

    s, body = get("/status")
    assert s == 200
    st = dict(ln.split(" ", 1) for ln in body.splitlines())
    assert st["node"] == "3" and st["pid"] == str(httpd.proc.pid)
    assert re.match(r"\d+\.\d{3} s$", st["uptime"]) and re.match(r"\d+ open, \d+ accepted$", st["connections"])
    n1 = int(st["requests"])
    s, body = get("/status")
    assert int(dict(ln.split(" ", 1) for ln in body.splitlines())["requests"]) == n1 + 1
    for n in (1, 1000, 123457):
        s, body = get("/work?n=%d" % n)
        assert s == 200 and body == "work n=%d result=%016x node 3\n" % (n, work_ref(n))
    for q in ("/work", "/work?n=0", "/work?n=-5", "/work?n=12x", "/work?n=100000001"):
        assert get(q)[0] == 400, q


def test_idle_timeout(docroot):
    s = Server([HTTPD, "-r", str(docroot), "-t", "1"])
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        t0 = time.monotonic()
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert recv_until(c, b"hello\n").endswith(b"\r\n\r\nhello\n")
        assert c.recv(4096) == b""          # closed by the server, idle
        assert 0.9 < time.monotonic() - t0 < 5
        # A request started and never finished is dropped too.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHo")
        assert c.recv(4096) == b""
    finally:
        s.stop()


def test_many_connections(httpd):
    socks = [socket.create_connection(("127.0.0.1", httpd.port), timeout=10) for _ in range(150)]
    for i, c in enumerate(socks):
        c.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (b"a.txt" if i % 2 else b"sub/"))
    for i, c in enumerate(socks):
        got = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            got += b
        assert got.endswith(b"hello\n" if i % 2 else b"sub index\n")
        c.close()


def test_connection_limit(docroot):
    # -c 2: a third client waits in the backlog until one of the two leaves.
    s = Server([HTTPD, "-r", str(docroot), "-c", "2"])
    try:
        a, b = (socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(2))
        time.sleep(0.2)
        c = socket.create_connection(("127.0.0.1", s.port), timeout=0.5)
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            c.recv(10)
        a.close()
        c.settimeout(5)
        assert recv_until(c, b"hello\n").endswith(b"\r\n\r\nhello\n")
        b.close()
        c.close()
    finally:
        s.stop()


@need_ab
@pytest.mark.parametrize("keep", [True, False])
def test_ab(httpd, keep):
    args = ["ab", "-q", "-n", "2000", "-c", "16"] + (["-k"] if keep else []) + \
        ["http://127.0.0.1:%d/index.html" % httpd.port]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Complete requests:\s+2000$", r.stdout, re.M), r.stdout
    assert re.search(r"^Failed requests:\s+0$", r.stdout, re.M), r.stdout
    assert "Non-2xx" not in r.stdout
    if keep:
        assert re.search(r"^Keep-Alive requests:\s+2000$", r.stdout, re.M), r.stdout


@need_ab
def test_ab_with_dmos_descriptors(docroot):
    """32 descriptors, as a dmos process has: httpd keeps 8 for files and
    takes fewer connections; ab -c 16 on a 64 KiB file (its descriptor stays
    open across polls) sees no failure and no 503."""
    (docroot / "64k.bin").write_bytes(bytes(range(256)) * 256)
    s = Server([HTTPD, "-r", str(docroot)], fds=32)
    try:
        m = re.match(r"httpd: (\d+) descriptors free: at most (\d+) connections at once$", s.lines[0])
        assert m and int(m.group(2)) == int(m.group(1)) - 8, s.lines
        r = subprocess.run(["ab", "-q", "-k", "-n", "1000", "-c", "16", "http://127.0.0.1:%d/64k.bin" % s.port],
                           capture_output=True, text=True, timeout=120)
        assert re.search(r"^Complete requests:\s+1000$", r.stdout, re.M), r.stdout + r.stderr
        assert re.search(r"^Failed requests:\s+0$", r.stdout, re.M) and "Non-2xx" not in r.stdout, r.stdout
    finally:
        s.stop()


def test_counts_at_sigterm(docroot):
    s = Server([HTTPD, "-r", str(docroot)])
    for _ in range(3):
        http_raw(s.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    http_raw(s.port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out, err, rc = s.stop()
    assert rc == 0 and re.search(r"^httpd: node 0 served 4 requests \(1 errors\) on 4 connections in \d+ s$",
                                 out, re.M), (out, err)


@pytest.mark.parametrize("args,rc,msg", [
    (["-p", "0"], 2, "-p 0: want a number from 1 to 65535"),
    (["-p", "80x"], 2, "want a number"),
    (["-c", "0"], 2, "-c 0"),
    (["-r", "/nonexistent/dir"], 1, "-r /nonexistent/dir: No such file"),
    (["-r", "/etc/hostname"], 1, "not a directory"),
    (["extra"], 2, "usage"),
])
def test_httpd_bad_args(args, rc, msg):
    r = subprocess.run([HTTPD] + args, capture_output=True, text=True, timeout=10)
    assert r.returncode == rc and msg in r.stderr, (r.returncode, r.stderr)


def test_port_in_use(docroot):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([HTTPD, "-r", str(docroot), "-p", str(port)], capture_output=True,
                           text=True, timeout=10)
    assert r.returncode == 1 and "port %d: Address already in use" % port in r.stderr


# ---- kvd -----------------------------------------------------------------------

HEAD_PAGE = 4096                # dmhost.c's page before the segment
KV_HEAD = 4096                  # kvd.c's struct kv_head
SLOT = 1280                     # struct kv_slot
SLOTS = 32
GROUP = 32 + (SLOTS + 1) * SLOT  # lock, intent, count, pad, writes, pad2, scratch, slots
KEY_MAX, VALUE_MAX = 240, 1024


def fnv1a(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & ((1 << 64) - 1)
    return h


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rwb")

    def cmd(self, line):
        self.f.write(line + b"\n")
        self.f.flush()
        return self.f.readline().rstrip(b"\n")

    def close(self):
        self.f.close()
        self.s.close()


def kvd(segdir, node, *args, name="kvd"):
    return Server([KVD, "-s", name] + list(args), env={"DMOS_SEG_DIR": str(segdir), "DMOS_NODE": str(node)})


@pytest.fixture
def pair(tmp_path):
    a = kvd(tmp_path, 0)
    b = kvd(tmp_path, 1)
    yield a, b
    for s in (a, b):
        s.kill()


def test_kvd_shared_segment(pair, tmp_path):
    a, b = pair
    assert re.match(r"kvd: made segment kvd: 256 groups, 8192 slots, made by pid \d+ on node 0$", a.lines[0])
    assert re.match(r"kvd: attached segment kvd: 256 groups, 8192 slots, made by pid %d on node 0$"
                    % a.proc.pid, b.lines[0])
    assert (tmp_path / "dmos-seg-kvd").exists()
    ca, cb = Client(a.port), Client(b.port)
    assert ca.cmd(b"SET greeting hello, world  with spaces") == b"OK"
    assert cb.cmd(b"GET greeting") == b"VALUE hello, world  with spaces"
    assert cb.cmd(b"SET greeting changed") == b"OK"
    assert ca.cmd(b"GET greeting") == b"VALUE changed"
    assert ca.cmd(b"SET empty ") == b"OK" and cb.cmd(b"GET empty") == b"VALUE "
    assert cb.cmd(b"DEL greeting") == b"OK"
    assert ca.cmd(b"GET greeting") == b"NOT_FOUND" and ca.cmd(b"DEL greeting") == b"NOT_FOUND"
    assert ca.cmd(b"set lower case\r") == b"OK" and cb.cmd(b"get lower") == b"VALUE case"
    assert ca.cmd(b"SET k\xc3\xa9y v\xc3\xa0lue\tx") == b"OK" and cb.cmd(b"GET k\xc3\xa9y") == b"VALUE v\xc3\xa0lue\tx"
    sa, sb = ca.cmd(b"STATS").split(), cb.cmd(b"STATS").split()
    assert sa[:4] == [b"STATS", b"node", b"0", b"keys"] and sb[:3] == [b"STATS", b"node", b"1"]
    assert sa[4] == sb[4] == b"3"
    assert dict(zip(sb[1::2], sb[2::2]))[b"pid"] == str(b.proc.pid).encode()
    assert cb.cmd(b"QUIT") == b"OK" and cb.f.readline() == b""
    ca.close()


def test_kvd_errors(pair):
    a, _ = pair
    c = Client(a.port)
    cases = [
        (b"FROB x", b"ERROR unknown command 'FROB'"),
        (b"SET onlykey", b"ERROR usage: SET key value"),
        (b"GET", b"ERROR usage: GET key"),
        (b"GET a b", b"ERROR usage: GET key"),
        (b"DEL", b"ERROR usage: DEL key"),
        (b"STATS now", b"ERROR usage: STATS takes no argument"),
        (b"SET  v", b"ERROR empty key"),
        (b"SET " + b"k" * (KEY_MAX + 1) + b" v", b"ERROR key too long (max 240 bytes)"),
        (b"GET " + b"k" * (KEY_MAX + 1), b"ERROR key too long (max 240 bytes)"),
        (b"SET k " + b"v" * (VALUE_MAX + 1), b"ERROR value too long (max 1024 bytes)"),
        (b"SET k a\x01b", b"ERROR control byte in value"),
        (b"GET a\x7f", b"ERROR control byte in key"),
        (b"SET k a\x00b", b"ERROR NUL byte in line"),
    ]
    for line, want in cases:
        assert c.cmd(line) == want, line
    # The longest key and value are fine.
    assert c.cmd(b"SET " + b"k" * KEY_MAX + b" " + b"v" * VALUE_MAX) == b"OK"
    assert c.cmd(b"GET " + b"k" * KEY_MAX) == b"VALUE " + b"v" * VALUE_MAX
    # An empty line has no reply: the next command's is the next line.
    assert c.cmd(b"\r\n\nGET nothing") == b"NOT_FOUND"
    c.close()


def test_kvd_oversize_lines(pair):
    a, b = pair
    c = Client(a.port)
    # Over 4096 bytes: refused once, skipped to its end, the connection goes on.
    assert c.cmd(b"SET big " + b"x" * 5000) == b"ERROR line too long (max 4096 bytes)"
    assert c.cmd(b"GET big") == b"NOT_FOUND"
    # A megabyte with no newline at all, then a command on the same connection.
    c.s.sendall(b"SET huge " + b"y" * (1 << 20))
    c.s.sendall(b"\nSET after ok\n")
    assert c.f.readline() == b"ERROR line too long (max 4096 bytes)\n"
    assert c.f.readline() == b"OK\n"
    assert Client(b.port).cmd(b"GET after") == b"VALUE ok"
    # Exactly 4096 bytes is a line.
    line = b"SET k4096 " + b"z" * (4096 - 10)
    assert len(line) == 4096 and c.cmd(line) == b"ERROR value too long (max 1024 bytes)"
    c.close()


def test_kvd_pipelined_and_many_clients(pair):
    a, b = pair
    c = Client(a.port)
    c.s.sendall(b"".join(b"SET p%d v%d\n" % (i, i) for i in range(3000)))
    for i in range(3000):
        assert c.f.readline() == b"OK\n"
    clients = [Client((a, b)[i % 2].port) for i in range(60)]
    for i, cl in enumerate(clients):
        cl.s.sendall(b"".join(b"SET c%d.%d val%d\n" % (i, j, j) for j in range(20)))
    for cl in clients:
        assert [cl.f.readline() for _ in range(20)] == [b"OK\n"] * 20
    other = Client(b.port)
    for i in range(60):
        for j in (0, 19):
            assert other.cmd(b"GET c%d.%d" % (i, j)) == b"VALUE val%d" % j
    assert other.cmd(b"GET p2999") == b"VALUE v2999"
    assert other.cmd(b"STATS").split()[4] == b"%d" % (3000 + 60 * 20)
    for cl in clients + [c, other]:
        cl.close()


def test_kvd_store_full(tmp_path):
    s = kvd(tmp_path, 0, "-g", "1")
    try:
        c = Client(s.port)
        for i in range(SLOTS):
            assert c.cmd(b"SET k%d v" % i) == b"OK"
        assert c.cmd(b"SET one-too-many v") == b"ERROR store full"
        assert c.cmd(b"SET k5 overwrite") == b"OK" and c.cmd(b"GET k5") == b"VALUE overwrite"
        assert c.cmd(b"DEL k7") == b"OK" and c.cmd(b"SET one-too-many v") == b"OK"
        for i in range(SLOTS):
            c.cmd(b"DEL k%d" % i)
        assert c.cmd(b"DEL one-too-many") == b"OK"
        assert c.cmd(b"STATS").split()[4] == b"0"
        assert c.cmd(b"GET one-too-many") == b"NOT_FOUND"
        c.close()
    finally:
        s.kill()


def two_choice_fill(groups, keys):
    """kvd's reply to SET of each of keys into an empty store: each goes to
    the emptier of its two groups (the lower-numbered on a tie), refused
    when both are full."""
    count, replies = [0] * groups, []
    for k in keys:
        h = fnv1a(k)
        a, b = h & (groups - 1), (h >> 16) & (groups - 1)
        if a == b:
            b = a ^ (groups > 1)
        a, b = min(a, b), max(a, b)
        g = a if count[a] <= count[b] else b
        if count[g] == SLOTS:
            replies.append(b"ERROR store full\n")
        else:
            count[g] += 1
            replies.append(b"OK\n")
    return replies


def test_kvd_fills_evenly(tmp_path):
    s = kvd(tmp_path, 0, "-g", "16")
    try:
        keys = [b"fill%d" % i for i in range(16 * SLOTS + 40)]
        want = two_choice_fill(16, keys)
        # Two choices fill the store evenly: the first refusal comes late.
        assert want.index(b"ERROR store full\n") >= 0.85 * 16 * SLOTS
        c = Client(s.port)
        c.s.sendall(b"".join(b"SET %s v\n" % k for k in keys))
        assert [c.f.readline() for _ in keys] == want
        assert c.cmd(b"STATS").split()[4] == b"%d" % want.count(b"OK\n")
        c.close()
    finally:
        s.kill()


def test_kvd_geometry_from_segment(tmp_path):
    a = kvd(tmp_path, 0, "-g", "4")
    b = kvd(tmp_path, 1, "-g", "64")          # attaches: takes the segment's 4 groups
    try:
        assert "4 groups, 128 slots" in b.lines[0]
    finally:
        a.kill()
        b.kill()


@pytest.mark.parametrize("args,msg", [
    (["-g", "3"], "-g 3: want a power of two"),
    (["-g", "8192"], "-g 8192: want a number from 1 to 4096"),
    (["-p", "70000"], "-p 70000"),
    (["-s", "x" * 40], "segment " + "x" * 40 + ": File name too long"),
])
def test_kvd_bad_args(tmp_path, args, msg):
    r = subprocess.run([KVD] + args, capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, DMOS_SEG_DIR=str(tmp_path)))
    assert r.returncode in (1, 2) and msg in r.stderr, r.stderr


def test_kvd_foreign_segment(tmp_path):
    # A segment of the right key but not formatted by kvd (a wrong magic) is refused.
    a = kvd(tmp_path, 0)
    a.kill()
    path = tmp_path / "dmos-seg-kvd"
    with open(path, "r+b") as f:
        f.seek(HEAD_PAGE)
        f.write(struct.pack("<Q", 0x1234))
    r = subprocess.run([KVD, "-p", str(free_port())], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, DMOS_SEG_DIR=str(tmp_path)))
    assert r.returncode == 1 and "not a kvd store of this version" in r.stderr


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def probe_slot(key, taken):
    """Where kvd puts key in its group: the first free slot from its start."""
    start = (fnv1a(key) >> 32) % SLOTS
    for i in range(SLOTS):
        j = (start + i) % SLOTS
        if j not in taken:
            return j
    raise AssertionError("full")


@pytest.mark.parametrize("holder", ["dead", "not-kvd"])
def test_kvd_repairs_lock_of_dead_holder(tmp_path, holder):
    """Group 0 (the only one, -g 1) locked by a process that is gone, or by a
    live one that is not kvd, mid-SET of key b (scratch written, intent
    published, target slot not yet): the next command takes the lock over,
    redoes the SET and recounts the group's keys."""
    s = kvd(tmp_path, 0, "-g", "1")
    sleeper = None
    try:
        c = Client(s.port)
        assert c.cmd(b"SET a first") == b"OK"
        taken = {probe_slot(b"a", set())}
        target = probe_slot(b"b", taken)
        if holder == "dead":
            pid = dead_pid()
        else:
            sleeper = subprocess.Popen(["sleep", "30"])
            pid = sleeper.pid
        g = HEAD_PAGE + KV_HEAD
        value = b"redone by repair"
        scratch = struct.pack("<IHHQ", 1, 1, len(value), fnv1a(b"b")) + b"b".ljust(KEY_MAX, b"\0") + value
        with open(tmp_path / "dmos-seg-kvd", "r+b") as f:
            f.seek(g + 32)
            f.write(scratch)
            f.seek(g + 4)
            f.write(struct.pack("<I", target + 1))      # intent
            f.seek(g + 8)
            f.write(struct.pack("<I", 7))               # a count the dead writer left wrong
            f.seek(g)
            f.write(struct.pack("<I", pid))             # the lock, held by pid
        t0 = time.monotonic()
        assert c.cmd(b"GET b") == b"VALUE redone by repair"
        assert time.monotonic() - t0 < 2
        assert c.cmd(b"GET a") == b"VALUE first"
        assert c.cmd(b"STATS").split()[4] == b"2"
        with open(tmp_path / "dmos-seg-kvd", "rb") as f:
            f.seek(g)
            lock, intent = struct.unpack("<II", f.read(8))
        assert lock == 0 and intent == 0
        s.proc.send_signal(signal.SIGTERM)
        out, _, _ = s.stop()
        assert "kvd: group 0 repaired: pid %d died holding it (its SET redone)" % pid in out
        c.close()
    finally:
        s.kill()
        if sleeper:
            sleeper.kill()
            sleeper.wait()


def test_kvd_waits_for_live_kvd_holder(tmp_path):
    """A lock held by a live kvd is waited for, never taken over."""
    a = kvd(tmp_path, 0, "-g", "1")
    b = kvd(tmp_path, 1)
    try:
        g = HEAD_PAGE + KV_HEAD
        with open(tmp_path / "dmos-seg-kvd", "r+b") as f:
            f.seek(g)
            f.write(struct.pack("<I", b.proc.pid))      # as if b held it
        c = Client(a.port)
        c.s.settimeout(0.5)
        c.f.write(b"GET x\n")
        c.f.flush()
        with pytest.raises(socket.timeout):
            c.s.recv(100)
        with open(tmp_path / "dmos-seg-kvd", "r+b") as f:
            f.seek(g)
            f.write(struct.pack("<I", 0))               # b "releases" it
        c.s.settimeout(5)
        assert c.s.recv(100) == b"NOT_FOUND\n"
    finally:
        a.kill()
        b.kill()


def test_kvd_killed_under_load(pair):
    """SIGKILL one kvd while it takes SETs as fast as a client sends them:
    the other goes on serving every key, whole values only."""
    a, b = pair
    c = Client(a.port)
    payload = b"".join(b"SET load%d %s\n" % (i, (b"%d-" % i) * 40) for i in range(6000))

    def send():
        try:
            c.s.sendall(payload)
        except OSError:
            pass        # the server died under it
    sender = threading.Thread(target=send)
    sender.start()
    oks = 0
    while oks < 2000:    # kill it in the middle of the stream
        assert c.f.readline() == b"OK\n"
        oks += 1
    a.proc.kill()
    a.proc.wait()
    sender.join(10)
    other = Client(b.port)
    other.s.settimeout(5)
    found = 0
    for i in range(0, 6000, 7):
        r = other.cmd(b"GET load%d" % i)
        assert r == b"NOT_FOUND" or r == b"VALUE " + (b"%d-" % i) * 40, r
        found += r != b"NOT_FOUND"
    assert found > 0
    assert other.cmd(b"SET after-kill yes") == b"OK" and other.cmd(b"GET after-kill") == b"VALUE yes"


def test_kvd_counts_at_sigterm(tmp_path):
    s = kvd(tmp_path, 2)
    c = Client(s.port)
    assert c.cmd(b"SET x 1") == b"OK" and c.cmd(b"GET x") == b"VALUE 1"
    c.close()
    out, err, rc = s.stop()
    assert rc == 0 and "kvd: node 2 handled 2 commands from 1 clients" in out, (out, err)
