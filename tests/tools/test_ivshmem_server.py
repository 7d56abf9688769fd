"""Tests of tools/ivshmem-server, the server QEMU's ivshmem-doorbell needs.

Bad command lines and unusable pools are refused with exit 2 and one line,
leaving no socket. With two real QEMUs (no kernel: they sit in the BIOS)
each gets its own peer id (read back from the IVPosition register), maps the
pool file as BAR2, and is handed the other's eventfds: the kernel's
eventfd-id in /proc/PID/fdinfo shows the very same eventfds in the server,
in QEMU A and in QEMU B. When B goes, A drops B's eventfds. SIGTERM ends the
server with exit 0 and removes its socket and pid file.

Run with `/usr/bin/python3 -m pytest tests/tools/test_ivshmem_server.py`.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import PYTHON, REPO
from dmoslib import qemu
from dmoslib.logwatch import LogWatch, until

SERVER = os.path.join(REPO, "tools", "ivshmem-server")
QEMU = shutil.which("qemu-system-x86_64")
VECTORS = 2


def wait_for(what, fn, timeout=30):
    v = until(fn, timeout)
    assert v, "timed out waiting for " + what
    return v


@pytest.fixture
def pool():
    path = "/dev/shm/ivt-%d-%d.pool" % (os.getpid(), time.monotonic_ns())
    with open(path, "wb") as f:
        f.truncate(16 << 20)
    yield path
    os.unlink(path)


def run_server(*args, timeout=10):
    return subprocess.run([PYTHON, SERVER] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# --- refusals: exit 2, one line, nothing created -------------------------

BAD = [
    ([], "required: --socket"),
    (["--socket", "{sock}"], "required: --shm"),
    (["--socket", "{sock}", "--shm", "{pool}", "--vectors", "0"], "--vectors must be 1..64, not 0"),
    (["--socket", "{sock}", "--shm", "{pool}", "--vectors", "65"], "--vectors must be 1..64"),
    (["--socket", "{sock}", "--shm", "{pool}", "--vectors", "two"], "--vectors wants a number"),
    (["--socket", "{sock}", "--shm", "{pool}", "--colour"], "unrecognized arguments: --colour"),
    (["--socket", "/tmp/" + "s" * 120, "--shm", "{pool}"], "longer than a unix socket allows"),
    (["--socket", "{sock}", "--shm", "/nonexistent/pool"], "cannot open pool file /nonexistent/pool"),
    (["--socket", "{sock}", "--shm", "{odd}"], "ivshmem needs a power of two"),
    (["--socket", "{sock}", "--shm", "{dir}"], "cannot open pool file"),
    (["--socket", "{file}", "--shm", "{pool}"], "exists and is not a socket"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_options(tmp_path, pool, args, message):
    odd = tmp_path / "odd.pool"
    odd.write_bytes(b"\0" * 3000)
    (tmp_path / "file").write_text("not a socket")
    names = dict(sock=tmp_path / "ivs.sock", pool=pool, odd=odd, dir=tmp_path,
                 file=tmp_path / "file")
    r = run_server(*[a.format(**names) for a in args])
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ivshmem-server: ") and message in lines[0], lines[0]
    assert not (tmp_path / "ivs.sock").exists()


# --- a running server ------------------------------------------------------

class Server:
    def __init__(self, tmp_path, pool):
        self.sock = str(tmp_path / "ivs.sock")
        self.pidfile = str(tmp_path / "server.pid")
        self.logpath = str(tmp_path / "server.log")
        self.logwatch = LogWatch(self.logpath)
        self.out = open(str(tmp_path / "server.out"), "w")
        self.proc = subprocess.Popen(
            [PYTHON, SERVER, "--socket", self.sock, "--shm", pool, "--vectors", str(VECTORS),
             "--pidfile", self.pidfile, "--log", self.logpath, "--foreground"],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        wait_for("the server's socket", lambda: os.path.exists(self.sock), 10)

    def log(self):
        return self.logwatch.update()

    def wait_log(self, regex, timeout=30):
        m = self.logwatch.wait(regex, timeout)
        assert m, "no server log line %r within %g s; log:\n%s" % (regex, timeout, self.log())
        return m

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.out.close()
        return self.proc.returncode


@pytest.fixture
def server(tmp_path, pool):
    s = Server(tmp_path, pool)
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()
    s.out.close()


@pytest.fixture
def qemus(tmp_path):
    """start(name, sock) -> (Popen, qmp path); every QEMU is killed at teardown."""
    if not QEMU:
        pytest.skip("qemu-system-x86_64 is not installed")
    procs = []

    def start(name, sock):
        qmp = str(tmp_path / ("%s.qmp" % name))
        out = open(str(tmp_path / ("%s.out" % name)), "w")
        p = subprocess.Popen(
            [QEMU, "-machine", "q35", "-accel", "tcg,thread=multi", "-smp", "1,maxcpus=2",
             "-m", "64M", "-nodefaults", "-display", "none", "-S", "-name", "ivt-" + name,
             "-qmp", "unix:%s,server=on,wait=off" % qmp,
             "-chardev", "socket,id=ivs,path=%s" % sock,
             "-device", "ivshmem-doorbell,chardev=ivs,vectors=%d" % VECTORS],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        out.close()
        procs.append(p)
        wait_for("%s's QMP socket" % name, lambda: os.path.exists(qmp) or p.poll() is not None)
        assert p.poll() is None, open(str(tmp_path / ("%s.out" % name))).read()
        return p, qmp

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def eventfds(pid):
    """The kernel's ids of every eventfd process pid holds."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^eventfd-id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def hmp(qmp, line):
    return qemu.qmp(qmp, "human-monitor-command", {"command-line": line})


def bars(qmp):
    """(BAR0, BAR2) guest addresses of the ivshmem device, once the BIOS set them."""
    pci = hmp(qmp, "info pci")
    b0 = re.search(r"BAR0: 32 bit memory at (0x[0-9a-f]+)", pci)
    b2 = re.search(r"BAR2: 64 bit prefetchable memory at (0x[0-9a-f]+)", pci)
    if not b0 or not b2 or b0.group(1).startswith("0xffffffff"):
        return None
    return int(b0.group(1), 16), int(b2.group(1), 16)


def words(qmp, addr, n):
    out = hmp(qmp, "xp /%dwx 0x%x" % (n, addr))
    return [int(w, 16) for w in out.split(":", 1)[1].split()]


def test_two_qemu_peers(server, qemus, pool):
    with open(pool, "r+b") as f:
        f.seek(4096)
        f.write(b"DMOSPOOL-IVT")

    a, qmp_a = qemus("a", server.sock)
    server.wait_log(r"peer 0 connected \(pid %d, %d vectors\)" % (a.pid, VECTORS))
    b, qmp_b = qemus("b", server.sock)
    server.wait_log(r"peer 1 connected \(pid %d, %d vectors\), 2 peers: 0 1$" % (b.pid, VECTORS))

    # Each QEMU holds the server's eventfds of both peers: its own vectors
    # and the other's doorbells.
    mine = wait_for("the server's eventfds",
                    lambda: (lambda s: s if len(s) == 2 * VECTORS else None)(
                        eventfds(server.proc.pid)))
    wait_for("QEMU a to hold b's eventfds", lambda: mine <= eventfds(a.pid))
    wait_for("QEMU b to hold a's eventfds", lambda: mine <= eventfds(b.pid))

    # Let the BIOS assign the BARs, then read what the guests see.
    for qmp in (qmp_a, qmp_b):
        qemu.qmp(qmp, "cont")
    for qmp, peer in ((qmp_a, 0), (qmp_b, 1)):
        bar0, bar2 = wait_for("BIOS to assign the ivshmem BARs", lambda: bars(qmp), 60)
        intrmask, intrstatus, ivposition, doorbell = words(qmp, bar0, 4)
        assert ivposition == peer               # IVPosition: ivshmem's peer id
        pool_words = words(qmp, bar2 + 4096, 3)  # BAR2 is the pool file
        assert b"".join(w.to_bytes(4, "little") for w in pool_words) == b"DMOSPOOL-IVT"
    assert "IRQ" not in hmp(qmp_a, "info pci").split("1af4:1110")[1].split("Bus")[0], \
        "ivshmem-doorbell has no INTx pin: MSI-X only"

    # B goes: A is told and closes B's eventfds; the server closes them too.
    b.kill()
    b.wait()
    server.wait_log(r"peer 1 disconnected \(pid %d, closed\), 1 peers: 0$" % b.pid)
    left = wait_for("server to close b's eventfds",
                    lambda: (lambda s: s if len(s) == VECTORS else None)(
                        eventfds(server.proc.pid)))
    gone = mine - left
    wait_for("QEMU a to drop b's eventfds", lambda: not (gone & eventfds(a.pid)))
    assert left <= eventfds(a.pid)

    # A new QEMU gets a new id, not the freed one.
    c, _ = qemus("c", server.sock)
    server.wait_log(r"peer 2 connected \(pid %d, %d vectors\), 2 peers: 0 2$" % (c.pid, VECTORS))

    assert server.stop() == 0
    assert not os.path.exists(server.sock)
    assert not os.path.exists(server.pidfile)
    assert re.search(r"^\S+ \S+ ivshmem-server: SIGTERM: exiting, 2 peers still connected$",
                     server.log(), re.M)
    assert a.poll() is None and c.poll() is None     # peers outlive the server


def test_sigterm_removes_socket(server):
    with open(server.pidfile) as f:
        assert int(f.read()) == server.proc.pid
    assert server.stop() == 0
    assert not os.path.exists(server.sock)
    assert not os.path.exists(server.pidfile)


def recv_msg(s):
    """One server message: (int64, fd or None)."""
    data, fds, _, _ = socket.recv_fds(s, 8, 1)
    assert len(data) == 8, "short message %r" % data
    for fd in fds[1:]:
        os.close(fd)
    return int.from_bytes(data, "little", signed=True), (fds[0] if fds else None)


def handshake(s, pool, peer_id):
    """Play a peer with no other peers: check every setup message."""
    assert recv_msg(s) == (0, None)                     # protocol version
    assert recv_msg(s) == (peer_id, None)               # our id
    value, fd = recv_msg(s)                             # the pool
    assert value == -1 and fd is not None
    try:
        assert os.path.samestat(os.fstat(fd), os.stat(pool))
    finally:
        os.close(fd)
    for _ in range(VECTORS):                            # our own vectors
        value, fd = recv_msg(s)
        assert value == peer_id and fd is not None
        os.close(fd)


def test_second_server_refused_and_daemon_mode(server, tmp_path, pool):
    r = run_server("--socket", server.sock, "--shm", pool)
    assert r.returncode == 2 and "another server is listening on" in r.stderr, r.stderr
    assert server.proc.poll() is None and os.path.exists(server.sock)
    server.stop()

    # Without --foreground it detaches once listening; a stale socket is taken over.
    sock = str(tmp_path / "d.sock")
    pidfile = str(tmp_path / "d.pid")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(sock)
    stale.close()                       # leaves the socket file, nobody listening
    r = run_server("--socket", sock, "--shm", pool, "--pidfile", pidfile,
                   "--log", str(tmp_path / "d.log"))
    assert r.returncode == 0, r.stderr
    with open(pidfile) as f:
        pid = int(f.read())
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)             # listening as soon as the command returned
            handshake(s, pool, 0)
        log = str(tmp_path / "d.log")
        wait_for("the daemon to log the disconnect",
                 lambda: "peer 0 disconnected" in open(log).read(), 10)
        os.kill(pid, signal.SIGTERM)
        wait_for("the daemon to exit", lambda: not os.path.exists("/proc/%d" % pid), 10)
    finally:
        if os.path.exists("/proc/%d" % pid):
            os.kill(pid, signal.SIGKILL)
    assert not os.path.exists(sock) and not os.path.exists(pidfile)
    assert re.search(r"peer 0 connected .*\n.*peer 0 disconnected .*\n.*SIGTERM: exiting",
                     open(log).read())
