"""Fixtures of every pytest test: tests/tools (the host tools on their own:
refusals, the pool inspector and the fault injector on synthetic pool
files, the ivshmem-server) and tests/cluster (booted clusters).

Run with `/usr/bin/python3 -m pytest tests/tools tests/cluster`. Fixtures:

  dmos          run the CLI: dmos("status", "--json") -> CompletedProcess (no raise)
  cluster_name  a fresh unique cluster name, t<pid>-<n>
  launch        launch(nodes=3, mem="64M", pool="64M", node_args={1: "fault=pf"})
                -> dmoslib.drive.Cluster, booted with `up --detach` and every node
                joined (the doorbell on; extra=["--no-doorbell"] for ivshmem-plain).
                Every cluster is taken down at teardown and checked for leftovers
                (QEMUs, the ivshmem-server, pool file, sockets, pid files); its run
                dir is deleted when the test passed (kept on failure, or always
                with DMOS_KEEP_RUNS=1).
  iso           the ISO booted: $DMOS_TEST_ISO, else build/dmos.iso

The harness itself, drive.Cluster, is the benchmarks' and tools/experiment's
too. Mark tests that boot nodes with @pytest.mark.boot: they are skipped,
with the reason, while the ISO does not exist. write_pool() builds synthetic
pool files for tests of the pool readers (dmoslib.poolimage lays them out as
a kernel would); poolcheck.py has the checks of pool files both folders use.
"""

import itertools
import os
import shutil
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"
ISO = os.environ.get("DMOS_TEST_ISO") or os.path.join(REPO, "build", "dmos.iso")
sys.path.insert(0, os.path.join(REPO, "tools"))

from dmoslib import drive, pool as poolmod, poolimage  # noqa: E402

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


def run_dmos(*args, **kw):
    """Run tools/dmos; returns the CompletedProcess whatever its exit status."""
    return drive.dmos(*args, check=False, **kw)


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


@pytest.fixture
def launch(request, tmp_path):
    """Factory: launch(nodes=3, mem="64M", pool="64M", node_args=None, detach=True,
    check=True, timeout=60, extra=(), name=None) -> drive.Cluster.

    detach=True runs `dmos up --detach` and (check=True) asserts every node
    joined; detach=False starts a foreground `dmos up` whose output
    cluster.output() follows. node_args maps a node id (or "all") to its
    arguments.
    """
    made = []

    def _launch(nodes=3, mem="64M", pool="64M", node_args=None, detach=True,
                check=True, timeout=60, extra=(), name=None):
        name = name or new_name()
        opts = dict(mem=mem, pool=pool, node_args=node_args, iso=ISO, extra=extra)
        if not detach:
            c = drive.Cluster.start(name, nodes, str(tmp_path / ("%s.out" % name)), **opts)
            made.append(c)
            return c
        c = drive.Cluster.up(name, nodes, timeout=timeout, check=False, **opts)
        made.append(c)
        if check:
            assert not c.is_down, "dmos up failed (%d):\n%s%s" % (
                c.result.returncode, c.result.stdout, c.result.stderr)
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
