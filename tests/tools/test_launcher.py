"""Tests of the cluster launcher (tools/dmos) that need no kernel.

Every bad input is refused with exit 2 and one clear line, and leaves
nothing behind, an ivshmem-server that cannot start stops `up` before any
node starts, and the pool reader under `dmos status` reads the superblock
and node table. Booting real clusters and stopping them every way is in
tests/cluster/test_launcher_live.py; the pool inspector (`dmos pool`) and
damaged pools are tested in test_inspector.py.
"""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import ISO, PYTHON, new_name, run_dmos, write_pool
from dmoslib import cluster, ivshmem, launcher, params, pool, qemu

SHM = "/dev/shm"


# --- bad input: exit 2, one line, nothing created -------------------------

BAD_UP = [
    (["-n", "0"], "--nodes 0 is out of range; a cluster has 1 to 64 nodes"),
    (["-n", "65"], "--nodes 65 is out of range"),
    (["-n", "x"], "invalid int value"),
    (["--pool", "8M"], "--pool 8M is out of range; the pool is a power of two from 16M"),
    (["--pool", "512K"], "--pool 512K is out of range"),
    (["--pool", "128G"], "--pool 128G is out of range"),
    (["--pool", "24M"], "--pool 24M is not a power of two; use e.g. 16M or 32M"),
    (["--pool", "lots"], "is not a size; write it like 512K, 64M or 1G"),
    (["--mem", "16M"], "--mem 16M is out of range; each node's memory is 32M to 16G"),
    (["--mem", "17G"], "--mem 17G is out of range"),
    (["--mem", "128"], "a unit is required"),
    (["--cluster", "Bad_Name"], "cluster name 'Bad_Name' is not allowed"),
    (["--cluster=-x"], "is not allowed"),
    (["--cluster", "a" * 32], "is not allowed"),
    (["--iso", "/nonexistent/dmos.iso"], "ISO /nonexistent/dmos.iso not found"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--node-arg", "fault=pf"], "write it as N:ARGS or all:ARGS"),
    (["--node-arg", "3:fault=pf"], "node 3 does not exist; nodes are 0..2"),
    (["--node-arg", "x:fault=pf"], "'x' is not a node number"),
    (["--node-arg", "1:"], "write it as N:ARGS"),
    (["--node-arg", "1:node=2"], "'node=2' is set by the launcher"),
    (["--node-arg", "1:a\tb"], "printable ASCII"),
    (["--gdb-wait", "5"], "--gdb-wait node 5 does not exist"),
    (["--gdb-base", "80"], "--gdb-base 80 is out of range"),
    (["--net-base", "80"], "--net-base 80 is out of range"),
    (["--net-base", "65535"], "--net-base 65535 is out of range"),
    (["--no-net", "--net-base", "30000"], "--no-net with --net-base: choose one"),
    (["--timeout", "0"], "--timeout 0 is not allowed"),
]


def shm_files():
    return set(os.listdir(SHM))


@pytest.mark.parametrize("args,message", BAD_UP, ids=[" ".join(a) for a, _ in BAD_UP])
def test_bad_input_refused_and_nothing_created(args, message):
    name = new_name()
    before = shm_files()
    cmd = ["up", "--detach", "--iso", ISO if os.path.exists(ISO) else __file__]
    if not any(a.startswith("--cluster") for a in args):
        cmd += ["--cluster", name]
    r = run_dmos(*cmd, *args)
    assert r.returncode == 2, r
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmos: "), r.stderr
    assert message in lines[0]
    # nothing named after the cluster (other clusters may come and go meanwhile)
    given = [v for k, v in zip(args, args[1:]) if k == "--cluster"] + \
        [a.split("=", 1)[1] for a in args if a.startswith("--cluster=")]
    new = shm_files() - before
    assert not [f for f in new if any(n in f for n in [name] + given)], new
    assert not os.path.exists(params.run_dir_for(name))


def test_default_iso_missing_message(tmp_path, monkeypatch):
    # the message for a missing default ISO says how to build it
    with pytest.raises(params.UsageError, match="run `make` at the repo root"):
        params.check_iso(str(tmp_path / "dmos.iso"), given=False)


def test_sizes():
    assert params.parse_size("64M", "--pool") == 64 << 20
    assert params.parse_size("1g", "--pool") == 1 << 30
    assert params.parse_size("512K", "--pool") == 512 << 10
    assert params.check_pool("64G") == 64 << 30
    assert params.check_mem("1536M") == 1536 << 20
    assert params.fmt_size(3 << 29) == "1536M"


def test_node_args_merge():
    got = params.parse_node_args(["1:fault=pf", "all:debug", "1:x=1,2"], 3)
    assert got == {0: "debug", 1: "fault=pf debug x=1,2", 2: "debug"}


@pytest.mark.parametrize("cmd", [["down"], ["status"], ["kill", "0"], ["gdb", "0"],
                                 ["console", "0"], ["pool"]])
def test_commands_on_a_cluster_that_is_not_running(cmd):
    name = new_name()
    r = run_dmos(*cmd, "--cluster", name)
    assert r.returncode == 1, r
    assert r.stderr.startswith("dmos: no cluster %r" % name), r.stderr
    assert not os.path.exists(params.run_dir_for(name))


def test_bad_cluster_name_for_other_commands():
    r = run_dmos("down", "--cluster", "NO")
    assert r.returncode == 2 and "not allowed" in r.stderr


def test_a_pool_device_needs_no_doorbell(tmp_path):
    with pytest.raises(params.UsageError, match="ivshmem-server only serves pool files; "
                       "give --no-doorbell"):
        launcher.check_doorbell(True, "/dev/null", str(tmp_path))
    launcher.check_doorbell(False, "/dev/null", str(tmp_path))
    with pytest.raises(params.UsageError, match="longer than a unix socket allows"):
        launcher.check_doorbell(False, "/dev/null", "/" + "d" * 100)


def test_ivshmem_server_that_cannot_start_stops_the_up(tmp_path):
    fake, name = tmp_path / "ivshmem-server", new_name()
    fake.write_text("import sys\nsys.exit('ivshmem-server: cannot listen: boom')\n")
    rd = params.run_dir_for(name)
    r = run_dmos("up", "--detach", "--cluster", name, "-n", 2, "--pool", "16M",
                 "--iso", ISO if os.path.exists(ISO) else __file__,
                 env=dict(os.environ, DMOS_IVSHMEM_SERVER=str(fake)))
    try:
        assert r.returncode == 1 and "the supervisor exited (status 1)" in r.stderr, r
        assert "ivshmem-server exited at once (status 1): ivshmem-server: cannot " \
            "listen: boom" in r.stderr, r.stderr
        assert "qemu started" not in open(os.path.join(rd, "launcher.log")).read()
        assert not os.path.exists(params.pool_path_for(name))
        assert sorted(os.listdir(rd)) == ["cluster.json", "ivshmem.log", "launcher.log"]
    finally:
        run_dmos("down", "--cluster", name)
        shutil.rmtree(rd, ignore_errors=True)


def test_down_stops_a_stale_ivshmem_server(tmp_path):
    # a supervisor gone, its server left running (PR_SET_PDEATHSIG failed?)
    run, image = cluster.Run(new_name()), write_pool(str(tmp_path / "p.pool"))
    os.makedirs(run.dir)
    sock, pidfile, log = ivshmem.paths(run.dir)
    subprocess.run([PYTHON, params.IVSHMEM_SERVER, "--socket", sock, "--shm", image,
                    "--pidfile", pidfile, "--log", log], check=True)   # a daemon
    pid = int(open(pidfile).read())
    try:
        run.save(dict(cluster=run.name, nodes=1, node=[], pool_path=image, run_dir=run.dir,
                      pool_is_device=True, doorbell=True, stopped=None, ivshmem=dict(
                          pid=pid, start=qemu.start_time(pid), state="running")))
        r = run_dmos("down", "--cluster", run.name)
        assert r.returncode == 0 and "supervisor is gone" in r.stdout, r
        assert "dmos: stopped ivshmem-server pid %d" % pid in r.stdout
        assert not qemu.alive(pid)
        assert sorted(os.listdir(run.dir)) == ["cluster.json", "ivshmem.log", "launcher.log"]
    finally:
        if qemu.alive(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(run.dir, ignore_errors=True)


# --- the pool reader (the inspector has test_inspector.py) ----------------

def test_pool_reads_superblock_and_node_table(tmp_path):
    path = write_pool(str(tmp_path / "ok.pool"), cluster="alpha",
                      claim=2, nodes=[(0, 2, 1, 40, 64 << 20), (1, 4, 3, 7, 32 << 20)])
    p = pool.read_pool(path)
    assert p.formatted and p.version == pool.POOL_VERSION and p.cluster_id == "alpha"
    assert p.format_claim == 2 and p.max_nodes == 64 and p.expected_nodes == 3
    assert p.problems == [] and p.warnings == []
    assert [(n.slot, n.state, n.epoch, n.heartbeat) for n in p.present()] == \
        [(0, "up", 1, 40), (1, "dead", 3, 7)]
    assert p.node(1).local_mem == 32 << 20 and p.node(2).state == "absent"
    assert (p.node(0).doorbell, p.node(0).dead_by, p.node(0).reclaimed) == (-1, 0, 0)
    assert p.nregions == 2 and p.data_off == 2 << 20
    r = run_dmos("pool", "--pool-path", path)
    assert r.returncode == 0 and "formatted by node 1" in r.stdout, r


def test_pool_without_control_areas_is_read_but_damaged(tmp_path):
    # only the fields of the first layout: the node table still reads
    path = write_pool(str(tmp_path / "old.pool"), size=1 << 20,
                      nodes=[(0, 2, 1, 40, 64 << 20)])
    p = pool.read_pool(path)
    assert p.node(0).state == "up"
    assert p.problems and "no lease, ring, translation or allocator area" in p.problems[0]
    r = run_dmos("pool", "--pool-path", path)
    assert r.returncode == 1 and "up" in r.stdout
    assert r.stderr.startswith("dmos: damaged pool %s: the superblock has no lease" % path)
