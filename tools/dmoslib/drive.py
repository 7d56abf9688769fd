"""Drive a running cluster from a host program: boot it, type monitor
commands on node consoles, wait for their answers, and stamp every event
with host time. Used by the benchmarks (bench/run.py) and the experiment
driver (tools/experiment); tests use their own harness (tests/cluster).
"""

import json
import os
import re
import subprocess
import sys
import time

from . import cluster, console, inject, params
from .pool import PoolError

DMOS = [sys.executable, os.path.join(params.REPO, "tools", "dmos")]


class DriveError(Exception):
    """The cluster did not do what was asked; str() says what and where to look."""


def dmos(*args, check=True):
    r = subprocess.run(DMOS + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise DriveError("dmos %s failed:\n%s%s" % (" ".join(map(str, args)), r.stdout, r.stderr))
    return r


class Cluster:
    """A detached cluster driven through its nodes' monitor consoles."""

    def __init__(self, name, nodes, mem="64M", pool="256M", extra=()):
        self.name, self.nodes = name, nodes
        self.dir = params.run_dir_for(name)
        self.t0 = time.monotonic()
        dmos("up", "--detach", "--nodes", nodes, "--mem", mem, "--pool", pool,
             "--cluster", name, "--timeout", 90, *extra)
        self.booted = time.monotonic() - self.t0

    def now(self):
        """Seconds since this driver started the cluster."""
        return time.monotonic() - self.t0

    def log(self, n):
        try:
            with open(os.path.join(self.dir, "node%d.log" % n), errors="replace") as f:
                return f.read().replace("\r", "")
        except FileNotFoundError:
            return ""

    def mark(self, n):
        return len(self.log(n))

    def send(self, n, line):
        if not console.type_into(os.path.join(self.dir, "node%d.sock" % n), line + "\n"):
            raise DriveError("node %d did not read %r (logs in %s)" % (n, line, self.dir))

    def wait(self, waits, timeout=300):
        """waits: {node: (regex, since)}. Return {node: (match, host time seen)}."""
        found = self.watch({n: (n, rx, since) for n, (rx, since) in waits.items()}, timeout)
        missing = sorted(set(waits) - set(found))
        if missing:
            raise DriveError("nodes %s printed no line matching %r within %d s (logs in %s)"
                             % (missing, waits[missing[0]][0], timeout, self.dir))
        return found

    def watch(self, waits, timeout=300, poll=0.02, until=None):
        """waits: {key: (node, regex, since)}, several per node if need be. Return
        {key: (match, host time seen)} for the lines seen within timeout; the
        logs are read every poll seconds. With until (some of the keys), return
        as soon as those are seen, with whatever else was seen by then."""
        found, deadline = {}, time.monotonic() + timeout
        need = set(waits if until is None else until)
        while not need <= set(found) and time.monotonic() <= deadline:
            logs = {}
            for key, (n, rx, since) in waits.items():
                if key not in found:
                    if n not in logs:
                        logs[n] = self.log(n)
                    m = re.compile(rx, re.M).search(logs[n], since)
                    if m:
                        found[key] = (m, self.now())
            time.sleep(poll)
        return found

    def run(self, nodes, line, done, timeout=300):
        """Send line to every node in nodes at once; return each one's closing match.
        done may hold %d for the node id."""
        marks = {n: self.mark(n) for n in nodes}
        for n in nodes:
            self.send(n, line)
        found = self.wait({n: (done % n if "%d" in done else done, marks[n]) for n in nodes},
                          timeout)
        return [found[n][0] for n in nodes]

    def kill(self, n):
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
            raise DriveError("fail-link %s: no cluster.json in %s" % (n, self.dir))
        try:
            t = inject.fail_link(run, n) - self.t0
        except (inject.InjectError, PoolError) as e:
            raise DriveError("fail-link %s: %s" % (n, e)) from None
        run.log(inject.link_log_line(n, run.cfg["node"][n].get("pid")))
        return t

    def pool(self):
        """The pool inspector's report, as `dmos pool --json` prints it."""
        r = dmos("pool", "--json", "--cluster", self.name, check=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise DriveError("dmos pool failed: %s" % r.stderr.strip()) from None

    def down(self):
        dmos("down", "--cluster", self.name, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
