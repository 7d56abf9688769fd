"""The cluster harness: boot a cluster with tools/dmos, type monitor
commands on node consoles, wait for their answers (each stamped with host
time), inject faults, read what the launcher and the pool record, take the
cluster down and check that it left nothing behind.

The one harness of the benchmarks (bench/run.py), the experiment driver
(tools/experiment) and the tests (tests/conftest.py's `launch` fixture).
Node consoles are followed with logwatch.LogWatch; a mark is an offset
into a node's cleaned console text (no carriage returns or escape codes).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

from . import cluster, console, inject, params, qemu
from . import pool as poolmod
from .logwatch import LogWatch, until
from .pool import PoolError

DMOS = [sys.executable, os.path.join(params.REPO, "tools", "dmos")]
# the monitor's line when a program it ran ends (kernel/monitor.c: run): its pid,
# then its exit status, or the signal that killed it
RUN_DONE = r"node %d: run: %s \(pid (\d+)\) (?:exited with status (\d+)|killed by signal (\d+))"


class DriveError(Exception):
    """The cluster did not do what was asked; str() says what and where to look."""


def dmos(*args, check=True, timeout=120, **kw):
    """Run tools/dmos (kw go to subprocess.run, e.g. env); returns the
    CompletedProcess. With check, a non-zero exit raises DriveError."""
    r = subprocess.run(DMOS + [str(a) for a in args], cwd=params.REPO, capture_output=True,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise DriveError("dmos %s failed:\n%s%s" % (" ".join(map(str, args)), r.stdout, r.stderr))
    return r


def up_args(name, nodes, mem, pool, node_args=None, iso=None, extra=()):
    """The `dmos up` arguments for a cluster; node_args maps a node id (or "all")
    to its kernel arguments."""
    args = ["up", "--cluster", name, "--nodes", nodes, "--mem", mem, "--pool", pool]
    if iso:
        args += ["--iso", iso]
    for n, a in (node_args or {}).items():
        args += ["--node-arg", "%s:%s" % (n, a)]
    return args + list(extra)


class Cluster:
    """One cluster, booted detached (up) or in the foreground (start)."""

    def __init__(self, name, nodes, result=None, proc=None, output=None):
        self.name, self.nodes = name, nodes
        self.run_dir = params.run_dir_for(name)
        self.result = result            # CompletedProcess of `up --detach`
        self.proc = proc                # Popen of a foreground `up`
        self.output_path = output       # where a foreground `up` writes
        self.is_down = False
        self.t0 = time.monotonic()
        self.booted = None              # seconds `up --detach` took
        self.consoles = {}              # node -> LogWatch of its console log

    @classmethod
    def up(cls, name, nodes, mem="64M", pool="256M", node_args=None, iso=None, extra=(),
           timeout=90, check=True):
        """`dmos up --detach`: returns once every node joined. If not, the
        launcher has taken the cluster down: with check that raises
        DriveError, else the Cluster comes back with is_down set and the
        launcher's words in result."""
        c = cls(name, nodes)
        c.result = dmos(*up_args(name, nodes, mem, pool, node_args, iso, extra), "--detach",
                        "--timeout", timeout, check=False, timeout=timeout + 60)
        c.booted = c.now()
        c.is_down = c.result.returncode != 0
        if check and c.is_down:
            raise DriveError("dmos up failed (%d):\n%s%s" % (
                c.result.returncode, c.result.stdout, c.result.stderr))
        return c

    @classmethod
    def start(cls, name, nodes, output, mem="64M", pool="256M", node_args=None, iso=None,
              extra=()):
        """A foreground `dmos up` writing its output to the file output;
        returns at once (wait for the nodes with wait_line)."""
        with open(output, "w") as f:
            p = subprocess.Popen(DMOS + [str(a) for a in up_args(
                name, nodes, mem, pool, node_args, iso, extra)], cwd=params.REPO,
                stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        return cls(name, nodes, proc=p, output=output)

    def now(self):
        """Seconds since this harness started the cluster."""
        return time.monotonic() - self.t0

    # --- what the launcher recorded -------------------------------------
    def cfg(self):
        with open(os.path.join(self.run_dir, "cluster.json")) as f:
            return json.load(f)

    @property
    def pool_path(self):
        return self.cfg()["pool_path"]

    def pids(self):
        """{node: qemu pid} as the launcher recorded them."""
        return {nd["id"]: nd["pid"] for nd in self.cfg()["node"]}

    def alive(self, n):
        nd = self.cfg()["node"][n]
        return bool(nd["pid"]) and qemu.is_node(nd["pid"], nd["start"], self.name, n)

    def supervisor_pid(self):
        try:
            with open(os.path.join(self.run_dir, "supervisor.pid")) as f:
                return int(f.read().split()[0])
        except OSError:
            return None

    def qemu_procs(self):
        """Pids of every QEMU process of this cluster (pgrep, not the records)."""
        return _pgrep("-name dmos-%s-node" % self.name)

    def server_procs(self):
        """Pids of this cluster's ivshmem-server (pgrep by its socket path)."""
        return _pgrep("ivshmem-server --socket %s " % os.path.join(self.run_dir, "ivshmem.sock"))

    def server_log(self):
        """The ivshmem-server's log ('' with --no-doorbell)."""
        return LogWatch(os.path.join(self.run_dir, "ivshmem.log")).update()

    def launcher(self):
        """A LogWatch of launcher.log, the supervisor's events."""
        return LogWatch(os.path.join(self.run_dir, "launcher.log"))

    def launcher_log(self):
        with open(os.path.join(self.run_dir, "launcher.log")) as f:
            return f.read()

    def output(self):
        """A LogWatch of a foreground `dmos up`'s stdout and stderr."""
        return LogWatch(self.output_path)

    # --- consoles ---------------------------------------------------------
    def console(self, n):
        if n not in self.consoles:
            self.consoles[n] = LogWatch(os.path.join(self.run_dir, "node%d.log" % n))
        return self.consoles[n]

    def log(self, n):
        """Node n's console so far, without carriage returns or escape codes."""
        return self.console(n).update()

    def mark(self, n):
        """A position in node n's log: waits with since=mark look after it."""
        return len(self.log(n))

    def watch(self, waits, timeout=300, poll=0.02, until=None):
        """waits: {key: (node, regex, since)}, several per node if need be. Return
        {key: (match, host time seen)} for the lines seen within timeout; the
        logs are read every poll seconds. With until (some of the keys), return
        as soon as those are seen, with whatever else was seen by then."""
        found, deadline = {}, time.monotonic() + timeout
        need = set(waits if until is None else until)
        while not need <= set(found) and time.monotonic() <= deadline:
            for key, (n, rx, since) in waits.items():
                if key not in found:
                    m = self.console(n).search(rx, since)
                    if m:
                        found[key] = (m, self.now())
            time.sleep(poll)
        return found

    def wait(self, waits, timeout=300, poll=0.02):
        """waits: {node: (regex, since)}. Return {node: (match, host time seen)};
        DriveError naming the nodes that printed no such line within timeout."""
        found = self.watch({n: (n, rx, since) for n, (rx, since) in waits.items()},
                           timeout, poll)
        missing = sorted(set(waits) - set(found))
        if missing:
            raise DriveError(self._no_line(missing[0], waits[missing[0]][0], timeout,
                                           waits[missing[0]][1], missing))
        return found

    def wait_line(self, n, regex, timeout=30, since=0):
        """Wait until node n's console has a line matching regex after since;
        returns the match (DriveError with its last lines if none within timeout)."""
        m = self.console(n).wait(regex, timeout, since)
        if not m:
            raise DriveError(self._no_line(n, regex, timeout, since))
        return m

    def _no_line(self, n, regex, timeout, since, nodes=None):
        tail = "\n".join(self.log(n)[since:].splitlines()[-15:])
        return "node %s of %s: no line matching %r within %g s (qemu %s); logs in %s; " \
            "node %d's last lines:\n%s" % (
                ", ".join(map(str, nodes or [n])), self.name, regex, timeout,
                "alive" if self.alive(n) else "exited", self.run_dir, n, tail)

    def wait_all(self, regex, timeout=30):
        return [self.wait_line(n, regex, timeout) for n in range(self.nodes)]

    def send(self, n, line, timeout=10):
        """Type line and a newline on node n's serial console. Waits until QEMU
        has read it all: QEMU drops what is still unread when the client hangs
        up, and it reads only as fast as the guest empties its UART."""
        if not console.type_into(os.path.join(self.run_dir, "node%d.sock" % n), line + "\n",
                                 timeout):
            raise DriveError("node %d of %s did not read %r within %g s (logs in %s)"
                             % (n, self.name, line, timeout, self.run_dir))

    def command(self, n, line, done, timeout=60):
        """Type a monitor command on node n; return the match of its closing line."""
        mark = self.mark(n)
        self.send(n, line)
        return self.wait_line(n, done, timeout, since=mark)

    def run(self, nodes, line, done, timeout=300):
        """Send line to every node in nodes at once; return each one's closing match.
        done may hold %d for the node id."""
        marks = {n: self.mark(n) for n in nodes}
        for n in nodes:
            self.send(n, line)
        found = self.wait({n: (done % n if "%d" in done else done, marks[n]) for n in nodes},
                          timeout)
        return [found[n][0] for n in nodes]

    def start_program(self, n, line):
        """`run line` on node n's monitor, not waited for; returns the log mark
        program_done() waits from."""
        mark = self.mark(n)
        self.send(n, "run " + line)
        return mark

    def program_done(self, n, line, mark, timeout=300):
        """(pid, exit status, output) of the program start_program() started at
        mark; the status is None if a signal killed it (program_signal() says
        which). The output is the console's from the `run` line on."""
        m = self.wait_line(n, RUN_DONE % (n, re.escape(line.split()[0])), timeout=timeout,
                           since=mark)
        status = int(m.group(2)) if m.group(2) is not None else None
        return int(m.group(1)), status, self.log(n)[mark:m.start()]

    def run_program(self, n, line, timeout=300):
        """`run line` on node n's monitor, waited for: (exit status or None, output)."""
        _, status, out = self.program_done(n, line, self.start_program(n, line), timeout)
        return status, out

    def program_ok(self, n, line, timeout=300):
        """run_program() of a program that must exit with status 0: its output."""
        status, out = self.run_program(n, line, timeout)
        if status != 0:
            raise DriveError("node %d: %s: %s\n%s" % (
                n, line, "killed by a signal" if status is None else "exit status %d" % status,
                out[-3000:]))
        return out

    def qmp(self, n, command, **arguments):
        return qemu.qmp(os.path.join(self.run_dir, "node%d.qmp" % n), command,
                        arguments or None)

    # --- the pool and the CLI ----------------------------------------------
    def pool(self):
        """The pool's superblock and node table (dmoslib.pool.Pool)."""
        return poolmod.read_pool(self.pool_path)

    def inspect(self):
        """The pool inspector's report, as `dmos pool --json` prints it."""
        r = self.dmos("pool", "--json")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise DriveError("dmos pool failed: %s" % r.stderr.strip()) from None

    def status(self):
        return json.loads(self.dmos("status", "--json").stdout)["clusters"][0]

    def dmos(self, *args, **kw):
        """Run a dmos command about this cluster (adds --cluster NAME); never raises
        for its exit status."""
        return dmos(*args, "--cluster", self.name, check=False, **kw)

    def kill(self, n):
        """`dmos kill n`: SIGKILL to node n's QEMU."""
        dmos("kill", n, "--cluster", self.name)

    def fail_region(self, region):
        """Fail a region as `dmos fail-region` does, in this process so that the
        time is the injection's; (frames destroyed, host time of the last store)."""
        run = cluster.Run(self.name)
        try:
            frames, seq = inject.fail_region(run.load()["pool_path"], region)
        except (inject.InjectError, PoolError) as e:
            raise DriveError("fail-region %s: %s" % (region, e)) from None
        t = self.now()
        run.log(inject.log_line(region, frames, seq))
        return frames, t

    def fail_link(self, n):
        """Take node n's link to the pool down as `dmos fail-link` does, in this
        process so that the time is the injection's; the host time of the NMI."""
        run = cluster.Run(self.name)
        if not run.load():
            raise DriveError("fail-link %s: no cluster.json in %s" % (n, self.run_dir))
        try:
            t = inject.fail_link(run, n) - self.t0
        except (inject.InjectError, PoolError) as e:
            raise DriveError("fail-link %s: %s" % (n, e)) from None
        run.log(inject.link_log_line(n, run.cfg["node"][n].get("pid")))
        return t

    # --- the end ----------------------------------------------------------
    def interrupt(self, timeout=30):
        """Ctrl-C to a foreground `dmos up`; returns its exit status."""
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout)
        self.is_down = True
        return rc

    def down(self, check=True):
        """Take the cluster down (idempotent); returns the CompletedProcess or
        None. With check, a `dmos down` that fails raises DriveError."""
        if self.is_down:
            return None
        self.is_down = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
            return None
        r = self.dmos("down")
        if check and r.returncode != 0:
            raise DriveError("dmos down: %s%s" % (r.stdout, r.stderr))
        return r

    def leftovers(self):
        """Anything the cluster should not have left: QEMUs, the ivshmem-server,
        pool, sockets, pid files."""
        left = ["qemu pid %d" % p for p in self.qemu_procs()]
        left += ["ivshmem-server pid %d" % p for p in self.server_procs()]
        if os.path.exists(params.pool_path_for(self.name)):
            left.append(params.pool_path_for(self.name))
        if os.path.isdir(self.run_dir):
            left += [f for f in os.listdir(self.run_dir)
                     if f.endswith((".sock", ".qmp", ".pid"))]
        return left

    def wait_clean(self, timeout=15):
        """Wait until nothing is left; returns what still is after timeout."""
        until(lambda: not self.leftovers(), timeout, 0.1)
        return self.leftovers()

    def force_clean(self):
        """SIGKILL whatever is left and remove the pool file."""
        sup = self.supervisor_pid()
        for pid in self.qemu_procs() + self.server_procs() + ([sup] if sup else []):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.dmos("down")
        if os.path.exists(params.pool_path_for(self.name)):
            os.unlink(params.pool_path_for(self.name))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down(check=False)


def _pgrep(pattern):
    r = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]
