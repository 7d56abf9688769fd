"""The cluster's servers behind the cluster IP (docs/net.md, docs/servers.md),
reached by unmodified host clients through the launcher's forwards on
127.0.0.1: httpd on every node serving files of the cluster file system,
kvd on every node serving one store kept in a shared segment.

- curl: 300 requests through the cluster IP, each on a new connection,
  are all answered, with the page's bytes, and each of 3 nodes serves a
  fair share (within 10% of a third); keep-alive reuses one connection;
  /status names the node that served it, as the X-Node header does.
- ab: runs back to back through the cluster IP while node 1's QEMU is
  killed, and while node 2's NIC is taken down through QMP (set_link):
  every run that starts 1 s after the death is declared (or after the
  node withdrew) completes every request; and once the link is back the
  node serves again.
- A program that exits, or crashes, loses its bindings: the pool's port
  table (dmos net) lists its listener while it runs and not after.
- kvd: a key set through one connection is read through the others, by
  every node.
"""

import json
import re
import subprocess
import threading
import time

import pytest

from dmoslib import params
from dmoslib.logwatch import until

PAGE = b"<html><body>dmos: a page of the cluster file system</body></html>\n" * 40
LISTENING = r"httpd: node %d listening on port 80, root /www"
KVD = r"kvd: node %d listening on port 6379, segment kvd"
SERVING = r"node %d: vip: 10\.0\.2\.100, mac 02:44:4d:00:02:64, serving$"
DECLARED = r"node %d: node %d (declared dead|is dead)"


def tool(*args):
    r = subprocess.run([params.DMOSFS] + [str(a) for a in args], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.fixture
def www(tmp_path):
    """A disk with /www/index.html (PAGE)."""
    img, page = tmp_path / "disk.img", tmp_path / "index.html"
    page.write_bytes(PAGE)
    tool("mkfs", img, "--size", "64M", "--label", "www")
    tool("mkdir", img, "/www")
    tool("put", img, page, "/www/index.html")
    return img


def boot(launch, img, nodes=3, **kw):
    c = launch(nodes=nodes, mem="64M", pool="128M", extra=["--disk-path", str(img)], **kw)
    for n in range(nodes):
        c.wait_line(n, SERVING % n, timeout=60)
    return c


def serve(c, nodes, line="httpd", ready=LISTENING):
    """Spawn line on each of nodes (not waited for); once each listens, {node: pid}."""
    marks = {n: c.mark(n) for n in nodes}
    for n in nodes:
        c.send(n, "spawn " + line)
    pids = {}
    for n in nodes:
        m = c.wait_line(n, r"node %d: spawn: %s is pid (\d+)" % (n, line.split()[0]),
                        timeout=30, since=marks[n])
        pids[n] = int(m.group(1))
        c.wait_line(n, ready % n, timeout=60, since=marks[n])
    return pids


def vip(c, port=80):
    return next(h for p, q, h in c.cfg()["net"]["vip_ports"] if (p, q) == ("tcp", port))


def curl(*args, timeout=120):
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def listeners(c, port):
    """[(node, pid)] listening on the cluster IP's tcp port, as `dmos net` reads the pool."""
    r = c.dmos("net", "--json")
    assert r.returncode == 0, r.stderr
    return sorted((x["node"], x["pid"]) for x in json.loads(r.stdout)["ports"]["listeners"]
                  if x["port"] == port and x["proto"] == "tcp")


@pytest.mark.boot
def test_curl_through_the_cluster_ip_is_shared_fairly(launch, www):
    c = boot(launch, www)
    serve(c, range(3))
    url = "http://127.0.0.1:%d/index.html" % vip(c)
    rc, out, err = curl("-H", "Connection: close", "-w",
                        "%{http_code} %{size_download} %header{x-node}\\n",
                        *["-o", "/dev/null", url] * 300)
    assert rc == 0, err
    lines = out.decode().split("\n")[:-1]
    assert len(lines) == 300
    assert all(ln.startswith("200 %d " % len(PAGE)) for ln in lines), lines
    per = [sum(1 for ln in lines if ln.endswith(" %d" % n)) for n in range(3)]
    assert sum(per) == 300 and all(90 <= k <= 110 for k in per), per

    rc, body, _ = curl(url)                 # the bytes of the file on the shared disk
    assert rc == 0 and body == PAGE
    rc, _, err = curl("-v", "-o", "/dev/null", "-o", "/dev/null", url, url)
    assert rc == 0 and "Re-using existing connection" in err, err     # keep-alive
    rc, body, err = curl("-D", "-", "http://127.0.0.1:%d/status" % vip(c))
    head, _, text = body.decode().partition("\r\n\r\n")
    node = re.search(r"^X-Node: (\d+)\r?$", head, re.M | re.I)
    assert rc == 0 and node and re.search(r"^node %s$" % node.group(1), text, re.M), body
    rc, body, _ = curl("-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/nothere"
                       % vip(c))
    assert body == b"404"


def ab(port, n=200):
    """One ab run, a new connection per request, one at a time: slirp's
    listening socket for a forward has a backlog of 1, so concurrent
    connects would wait for SYN retransmissions on the host's side, which
    is not what is tested. ab gives up on a request that gets no answer
    for 20 s, and on its run with it: a request into a dead node's share;
    one slowed by a retransmission (a loaded host can deschedule a node
    for long enough) still succeeds. (started, ended, complete, failed)."""
    t0 = time.monotonic()
    r = subprocess.run(["ab", "-r", "-s", "20", "-n", str(n), "-c", "1",
                        "http://127.0.0.1:%d/index.html" % port], capture_output=True,
                       text=True, timeout=600)
    t1 = time.monotonic()
    done = re.search(r"^Complete requests:\s+(\d+)", r.stdout, re.M)
    failed = re.search(r"^Failed requests:\s+(\d+)", r.stdout, re.M)
    if not done or not failed:                  # ab gave up (a request timed out)
        return t0, t1, 0, n
    bad = int(failed.group(1))
    m = re.search(r"^Non-2xx responses:\s+(\d+)", r.stdout, re.M)
    return t0, t1, int(done.group(1)), bad + (int(m.group(1)) if m else 0)


class AbLoop:
    """ab runs back to back in a thread, from start() until stop(): runs holds
    their (started, ended, complete, failed)."""

    def __init__(self, port):
        self.port, self.runs, self.done = port, [], threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.done.is_set():
            self.runs.append(ab(self.port))

    def start(self):
        self.thread.start()
        while not self.runs:                # one whole run before anything happens
            time.sleep(0.05)
        return self

    def stop_after(self, bound, runs=2, limit=90):
        """Stop once runs of them started after bound (or after limit s)."""
        end = time.monotonic() + limit
        while sum(1 for r in list(self.runs) if r[0] >= bound) < runs and \
                time.monotonic() < end:
            time.sleep(0.1)
        self.done.set()
        self.thread.join()
        return self.runs


def clean_after(runs, bound, n=200):
    """Every ab run that started after bound completed all n requests, none failed."""
    after = [r for r in runs if r[0] >= bound]
    assert after, "no ab run started after the failover bound"
    assert all(r[2] == n and r[3] == 0 for r in after), (bound, runs)


@pytest.mark.boot
def test_ab_through_the_cluster_ip_while_a_node_is_killed(launch, www):
    c = boot(launch, www, node_args={"all": "dead_after=600"})
    serve(c, range(3))
    loop = AbLoop(vip(c)).start()
    assert loop.runs[0][2:] == (200, 0), loop.runs
    marks = {n: c.mark(n) for n in (0, 2)}
    c.kill(1)                               # in the middle of an ab run
    seen = c.watch({n: (n, DECLARED % (n, 1), marks[n]) for n in (0, 2)}, timeout=10,
                   poll=0.005, until=[0])
    assert seen, "nobody declared node 1 dead"
    declared = c.t0 + min(t for _, t in seen.values())
    runs = loop.stop_after(declared + 1.0)
    print("ab runs (declared dead at %.2f): %s" % (declared, runs))
    clean_after(runs, declared + 1.0)
    assert [n for n, _ in listeners(c, 80)] == [0, 2]     # node 1's entry went with it


@pytest.mark.boot
def test_ab_through_the_cluster_ip_while_a_nic_is_down(launch, www):
    c = boot(launch, www)
    serve(c, range(3))
    port = vip(c)
    loop = AbLoop(port).start()
    assert loop.runs[0][2:] == (200, 0), loop.runs
    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=False)     # in the middle of an ab run
    m = c.watch({2: (2, r"node 2: vip: link down: withdrawn from the bucket tables$", mark)},
                timeout=5, poll=0.005)
    assert m, "node 2 did not withdraw"
    withdrawn = c.t0 + m[2][1]
    runs = loop.stop_after(withdrawn + 1.0)
    print("ab runs (node 2 withdrawn at %.2f): %s" % (withdrawn, runs))
    clean_after(runs, withdrawn + 1.0)

    # the link back: node 2 is a member again and its listener counts
    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=True)
    c.wait_line(2, r"node 2: vip: link up: back in the bucket tables$", timeout=5, since=mark)
    r = c.dmos("net", "--json")
    t = json.loads(r.stdout)["ports"]
    assert "2" in t["members"], t["members"]
    assert [x["counts"] for x in t["listeners"] if x["node"] == 2 and x["port"] == 80] == [True]


@pytest.mark.boot
def test_a_program_that_exits_or_crashes_loses_its_bindings(launch, www):
    c = boot(launch, www, nodes=2)
    pids = serve(c, [1])
    assert listeners(c, 80) == [(1, pids[1])]
    assert c.run_program(1, "kill %d" % pids[1])[0] == 0
    assert until(lambda: listeners(c, 80) == [], 5, 0.1), listeners(c, 80)
    # a program that faults while it listens: listed while it runs, not after
    line = "dmtest --child sockfault 8080"
    start = c.start_program(1, line)
    c.wait_line(1, r"dmtest: listening on 8080", timeout=30, since=start)
    assert [n for n, _ in listeners(c, 8080)] == [1]
    _, status, out = c.program_done(1, line, start, timeout=60)
    assert status is None and re.search(r"pid \d+ \(dmtest\) killed: page fault", out), out
    assert listeners(c, 8080) == []


@pytest.mark.boot
def test_kvd_on_every_node_serves_one_store(launch, www):
    import socket
    c = boot(launch, www)
    serve(c, range(3), "kvd", KVD)
    port = vip(c, 6379)

    def ask(line):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(line.encode() + b"\nSTATS\n")
            got = b""
            while got.count(b"\n") < 2:
                b = s.recv(4096)
                if not b:
                    break
                got += b
        reply, stats = got.decode().split("\n")[:2]
        return reply, int(re.match(r"STATS node (\d+) ", stats).group(1))

    assert ask("SET colour blue")[0] == "OK"
    seen = set()
    for _ in range(30):
        reply, node = ask("GET colour")
        assert reply == "VALUE blue", reply
        seen.add(node)
    assert seen == {0, 1, 2}, seen
    assert ask("DEL colour")[0] == "OK"
    assert ask("GET colour")[0] == "NOT_FOUND"
