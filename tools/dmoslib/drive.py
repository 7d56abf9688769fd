"""Drive a running cluster from a host program: boot it, type monitor
commands on node consoles, wait for their answers, and stamp every event
with host time. Used by the benchmarks (bench/run.py) and the experiment
driver (tools/experiment); tests use their own harness (tests/cluster).
"""

import os
import re
import subprocess
import sys
import time

from . import console, params

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
        found, deadline = {}, time.monotonic() + timeout
        while len(found) < len(waits):
            if time.monotonic() > deadline:
                missing = sorted(set(waits) - set(found))
                raise DriveError("nodes %s printed no line matching %r within %d s (logs in %s)"
                                 % (missing, waits[missing[0]][0], timeout, self.dir))
            for n, (rx, since) in waits.items():
                if n not in found:
                    m = re.compile(rx, re.M).search(self.log(n), since)
                    if m:
                        found[n] = (m, self.now())
            time.sleep(0.02)
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

    def down(self):
        dmos("down", "--cluster", self.name, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
