"""Harness of the cluster tests: boot clusters with tools/dmos, drive them, check them.

Run with `/usr/bin/python3 -m pytest tests/cluster`. Fixtures:

  dmos          run the CLI: dmos("status", "--json") -> CompletedProcess (no raise)
  cluster_name  a fresh unique cluster name, t<pid>-<n>
  launch        launch(nodes=3, mem="64M", pool="64M", node_args={1: "fault=pf"})
                -> Cluster, booted with `up --detach` and every node joined (the
                doorbell on; extra=["--no-doorbell"] for ivshmem-plain). Every
                cluster is taken down at teardown and checked for leftovers (QEMUs,
                the ivshmem-server, pool file, sockets, pid files); its run dir is
                deleted when the test passed (kept on failure, or always with
                DMOS_KEEP_RUNS=1).
  iso           the ISO booted: $DMOS_TEST_ISO, else build/dmos.iso

Mark tests that boot nodes with @pytest.mark.boot: they are skipped, with the
reason, while the ISO does not exist. write_pool() builds synthetic pool files
for tests of the pool readers (dmoslib.poolimage lays them out as a kernel would).
"""

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DMOS = os.path.join(REPO, "tools", "dmos")
PYTHON = "/usr/bin/python3"
ISO = os.environ.get("DMOS_TEST_ISO") or os.path.join(REPO, "build", "dmos.iso")
sys.path.insert(0, os.path.join(REPO, "tools"))

from dmoslib import console, params, pool as poolmod, poolimage, qemu  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_names = itertools.count(1)


def pytest_configure(config):
    config.addinivalue_line("markers", "boot: boots QEMU nodes; needs the ISO "
                            "(build/dmos.iso or $DMOS_TEST_ISO)")


def pytest_collection_modifyitems(config, items):
    if os.path.isfile(ISO):
        return
    skip = pytest.mark.skip(reason="no ISO at %s: run `make` at the repo root (or set "
                            "DMOS_TEST_ISO) to run the boot tests" % ISO)
    for item in items:
        if "boot" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def run_dmos(*args, timeout=120, **kw):
    """Run tools/dmos with Debian's python; returns the CompletedProcess."""
    return subprocess.run([PYTHON, DMOS] + [str(a) for a in args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture
def dmos():
    return run_dmos


def new_name():
    return "t%d-%d" % (os.getpid(), next(_names))


@pytest.fixture
def cluster_name():
    return new_name()


@pytest.fixture
def iso():
    return ISO


def clean_text(data):
    return ANSI.sub("", data.replace("\r", ""))


class Cluster:
    """One cluster booted by a test; see the module docstring."""

    def __init__(self, name, nodes, result=None, proc=None, output=None):
        self.name, self.nodes = name, nodes
        self.run_dir = params.run_dir_for(name)
        self.result = result            # CompletedProcess of `up --detach`
        self.proc = proc                # Popen of a foreground `up`
        self.output_path = output
        self.is_down = False

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
        r = subprocess.run(["pgrep", "-f", "--", "-name dmos-%s-node" % self.name],
                           capture_output=True, text=True)
        return [int(p) for p in r.stdout.split()]

    def server_procs(self):
        """Pids of this cluster's ivshmem-server (pgrep by its socket path)."""
        r = subprocess.run(["pgrep", "-f", "--", "ivshmem-server --socket %s "
                            % os.path.join(self.run_dir, "ivshmem.sock")],
                           capture_output=True, text=True)
        return [int(p) for p in r.stdout.split()]

    def server_log(self):
        """The ivshmem-server's log ('' with --no-doorbell)."""
        try:
            with open(os.path.join(self.run_dir, "ivshmem.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- consoles ---------------------------------------------------------
    def log(self, n):
        """Node n's console so far, without carriage returns or escape codes."""
        try:
            with open(os.path.join(self.run_dir, "node%d.log" % n), "rb") as f:
                return clean_text(f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return ""

    def mark(self, n):
        """A position in node n's log; wait_line(..., since=mark) looks after it."""
        return len(self.log(n))

    def wait_line(self, n, regex, timeout=30, since=0):
        """Wait until a line of node n's console matches regex; returns the match."""
        rx = re.compile(regex, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log(n)
            m = rx.search(text, since)
            if m:
                return m
            if time.monotonic() > deadline:
                tail = "\n".join(text[since:].splitlines()[-15:])
                raise AssertionError("node %d of %s: no line matching %r within %g s "
                                     "(qemu %s); last lines:\n%s" % (
                                         n, self.name, regex, timeout,
                                         "alive" if self.alive(n) else "exited", tail))
            time.sleep(0.05)

    def wait_all(self, regex, timeout=30):
        return [self.wait_line(n, regex, timeout) for n in range(self.nodes)]

    def send(self, n, text, timeout=10):
        """Type text on node n's serial console. Waits until QEMU has read it
        all: QEMU drops what is still unread when the client hangs up, and it
        reads only as fast as the guest empties its UART."""
        if not console.type_into(os.path.join(self.run_dir, "node%d.sock" % n), text, timeout):
            raise AssertionError("node %d of %s did not read %r within %g s"
                                 % (n, self.name, text, timeout))

    def qmp(self, n, command, **arguments):
        return qemu.qmp(os.path.join(self.run_dir, "node%d.qmp" % n), command,
                        arguments or None)

    def launcher_log(self):
        with open(os.path.join(self.run_dir, "launcher.log")) as f:
            return f.read()

    def output(self):
        """stdout+stderr of a foreground `dmos up` so far."""
        with open(self.output_path) as f:
            return f.read()

    # --- the pool and the CLI ----------------------------------------------
    def pool(self):
        """The pool's superblock and node table (dmoslib.pool.Pool)."""
        return poolmod.read_pool(self.pool_path)

    def status(self):
        r = run_dmos("status", "--cluster", self.name, "--json")
        return json.loads(r.stdout)["clusters"][0]

    def dmos(self, *args, **kw):
        """Run a dmos command about this cluster (adds --cluster NAME)."""
        return run_dmos(*args, "--cluster", self.name, **kw)

    def kill(self, n):
        r = self.dmos("kill", n)
        assert r.returncode == 0, r.stderr
        return r

    # --- the end ----------------------------------------------------------
    def interrupt(self, timeout=30):
        """Ctrl-C to a foreground `dmos up`; returns its exit status."""
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout)
        self.is_down = True
        return rc

    def down(self, check=True):
        """Take the cluster down (idempotent); returns the CompletedProcess or None."""
        if self.is_down:
            return None
        self.is_down = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
            return None
        r = self.dmos("down")
        if check:
            assert r.returncode == 0, "dmos down: %s%s" % (r.stdout, r.stderr)
        return r

    def leftovers(self):
        """Anything the cluster should not have left: QEMUs, the ivshmem-server,
        pool, sockets, pid files."""
        left = ["qemu pid %d" % p for p in self.qemu_procs()]
        left += ["ivshmem-server pid %d" % p for p in self.server_procs()]
        for path in [params.pool_path_for(self.name)]:
            if os.path.exists(path):
                left.append(path)
        if os.path.isdir(self.run_dir):
            left += [f for f in os.listdir(self.run_dir)
                     if f.endswith((".sock", ".qmp", ".pid"))]
        return left

    def wait_clean(self, timeout=15):
        """Wait until nothing is left; returns what still is after timeout."""
        deadline = time.monotonic() + timeout
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.leftovers()

    def force_clean(self):
        for pid in self.qemu_procs() + self.server_procs() + (
                [self.supervisor_pid()] if self.supervisor_pid() else []):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run_dmos("down", "--cluster", self.name)
        if os.path.exists(params.pool_path_for(self.name)):
            os.unlink(params.pool_path_for(self.name))


@pytest.fixture
def launch(request, tmp_path):
    """Factory: launch(nodes=3, mem="64M", pool="64M", node_args=None, detach=True,
    check=True, timeout=60, extra=()) -> Cluster.

    detach=True runs `dmos up --detach` and (check=True) asserts every node
    joined; detach=False starts a foreground `dmos up` whose output is in
    cluster.output(). node_args maps a node id (or "all") to its arguments.
    """
    made = []

    def _launch(nodes=3, mem="64M", pool="64M", node_args=None, detach=True,
                check=True, timeout=60, extra=(), name=None):
        name = name or new_name()
        args = ["up", "--cluster", name, "-n", nodes, "--mem", mem, "--pool", pool,
                "--iso", ISO]
        for n, a in (node_args or {}).items():
            args += ["--node-arg", "%s:%s" % (n, a)]
        args += list(extra)
        if detach:
            r = run_dmos(*args, "--detach", "--timeout", timeout, timeout=timeout + 60)
            c = Cluster(name, nodes, result=r)
            made.append(c)
            if check:
                assert r.returncode == 0, "dmos up failed (%d):\n%s%s" % (
                    r.returncode, r.stdout, r.stderr)
            else:
                c.is_down = r.returncode != 0
            return c
        out = tmp_path / ("%s.out" % name)
        with open(out, "w") as f:
            p = subprocess.Popen([PYTHON, DMOS] + [str(a) for a in args], cwd=REPO,
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        c = Cluster(name, nodes, proc=p, output=str(out))
        made.append(c)
        return c

    yield _launch
    problems = []
    for c in made:
        c.down(check=False)
        left = c.wait_clean()
        if left:
            problems.append("%s left %s" % (c.name, ", ".join(left)))
            c.force_clean()
    passed = getattr(request.node, "rep_call", None) and request.node.rep_call.passed
    for c in made:
        if passed and not problems and not os.environ.get("DMOS_KEEP_RUNS"):
            shutil.rmtree(c.run_dir, ignore_errors=True)
        elif os.path.isdir(c.run_dir):
            print("logs of %s kept in %s" % (c.name, c.run_dir))
    assert not problems, "leftovers after down: " + "; ".join(problems)


def write_pool(path, size=64 << 20, version=poolmod.POOL_VERSION, magic=poolmod.POOL_MAGIC, max_nodes=64,
               expected=3, cluster="test", claim=1, region=32 << 20, table=None,
               data=None, nodes=()):
    """Write a synthetic pool file; returns its path.

    From 16M up it is formatted byte for byte as a kernel formats it for
    `expected` nodes (dmoslib.poolimage); a smaller one gets only the old
    fields of the superblock and a node table (its other areas are missing).
    The keywords set superblock fields; nodes = [(slot, state, epoch,
    heartbeat, mem)].
    """
    fields = dict(version=version, magic=magic, max_nodes=max_nodes,
                  format_claim=claim)
    if table is not None:
        fields["node_table_off"] = table
    if data is not None:
        fields["data_off"] = data
    try:
        img = poolimage.create(path, size, expected, cluster, region=region, **fields)
    except ValueError:                              # too small for the control state
        sb = dict.fromkeys(poolmod.SUPER_FIELDS, 0)
        sb.update(fields, pool_size=size, region_size=region, expected_nodes=expected,
                  cluster_id=cluster.encode(), node_table_off=table or 0x1000,
                  data_off=data or 0x2000)
        with open(path, "wb") as f:
            f.truncate(size)
            f.write(poolmod.SUPER_FMT.pack(*[sb[k] for k in poolmod.SUPER_FIELDS]))
        img = poolimage.Image(path, sb)
    for slot, state, epoch, beat, mem in nodes:
        img.node(slot, state, epoch, beat, mem)
    return path
