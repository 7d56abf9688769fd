"""The cluster's ivshmem-server: started, found and read by the launcher.

With the doorbell on (the default of `dmos up`), every node's QEMU has an
ivshmem-doorbell device that gets the pool (the server passes the pool
file's fd) and its inter-node interrupts (MSI-X, one vector) from one
tools/ivshmem-server per cluster. The server listens on ivshmem.sock in the
run dir, writes ivshmem.pid, and logs every peer that comes and goes to
ivshmem.log. The supervisor starts it before any node, as its own child in
the foreground, so that it dies with the supervisor exactly like the QEMUs
(PR_SET_PDEATHSIG), and stops it after the last node. A server is known by
pid, start time and command line (its socket path), so a recycled pid is
never taken for it. With --no-doorbell there is no server: the nodes map the
pool file through ivshmem-plain and poll for messages.
"""

import os
import re
import sys
import time

from . import params, qemu
from .params import DmosError

PEER_RE = re.compile(r"ivshmem-server: peer (\d+) (connected|disconnected) \(pid (\d+)")


def paths(run_dir):
    """(socket, pid file, log) of the cluster's server."""
    return qemu.server_paths(run_dir)


def argv(cfg):
    sock, pidfile, log = paths(cfg["run_dir"])
    return [sys.executable, params.ivshmem_server(), "--socket", sock,
            "--shm", cfg["pool_path"], "--vectors", str(cfg["vectors"]),
            "--pidfile", pidfile, "--log", log, "--foreground"]


def start(cfg):
    """Start the server; return its Popen once it listens. DmosError if it cannot."""
    sock, pidfile, log = paths(cfg["run_dir"])
    for path in (sock, pidfile):
        _unlink(path)
    with open(log, "ab") as out:            # its early errors land in its log too
        try:
            p = qemu.spawn(argv(cfg), out=out)
        except OSError as e:
            raise DmosError("cannot start %s: %s" % (params.ivshmem_server(), e.strerror))
    deadline = time.monotonic() + params.SERVER_WAIT
    while True:
        if p.poll() is not None:
            raise DmosError("ivshmem-server exited at once (status %d): %s"
                            % (p.returncode, last_words(log)))
        if _pid_in(pidfile) == p.pid and os.path.exists(sock):
            return p                        # it listens before it writes its pid
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise DmosError("ivshmem-server did not listen on %s within %g s: %s"
                            % (sock, params.SERVER_WAIT, last_words(log)))
        time.sleep(0.02)


def last_words(log):
    """The server's last complaint in its log, for a one-line error."""
    try:
        with open(log, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1] if lines else "it said nothing"


def _pid_in(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def is_server(pid, started, sock):
    """Is pid still the ivshmem-server listening on sock (not a recycled pid)?"""
    if not qemu.alive(pid, started):
        return False
    cmd = qemu.proc_cmdline(pid)
    return "ivshmem-server" in cmd and (" --socket %s " % sock) in cmd


def live_pid(cfg):
    """The pid of the cluster's server if it is still running, else None."""
    rec = (cfg or {}).get("ivshmem") or {}
    pid = rec.get("pid")
    if pid and is_server(pid, rec.get("start"), paths(cfg["run_dir"])[0]):
        return pid
    return None


def peers(log):
    """{peer id: QEMU pid} of the peers connected now, replayed from the log."""
    now = {}
    try:
        with open(log, errors="replace") as f:
            for line in f:
                m = PEER_RE.search(line)
                if m and m.group(2) == "connected":
                    now[int(m.group(1))] = int(m.group(3))
                elif m:
                    now.pop(int(m.group(1)), None)
    except OSError:
        pass
    return now


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
