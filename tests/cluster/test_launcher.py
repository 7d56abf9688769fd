"""Tests of the cluster launcher (tools/dmos) and the pool reader.

The first half needs no kernel: every bad input is refused with exit 2 and
one clear line, and leaves nothing behind; the pool reader names what is
wrong with a file that is not a dmos pool. The second half (marked boot)
boots real QEMU nodes from the ISO and checks that no way of stopping a
cluster leaves a QEMU, a pool file, a socket or a pid file behind.
"""

import os
import random
import signal
import time

import pytest

from conftest import ISO, new_name, run_dmos, write_pool
from dmoslib import params, pool, qemu

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
    new = shm_files() - before
    assert not [f for f in new if name in f or f.startswith("dmos-")], new
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


# --- the pool reader ------------------------------------------------------

def test_pool_zero_file_is_unformatted(tmp_path):
    path = tmp_path / "zero.pool"
    path.write_bytes(bytes(16 << 10))
    p = pool.read_pool(str(path))
    assert not p.formatted
    r = run_dmos("pool", "--pool-path", path)
    assert r.returncode == 0
    assert "unformatted (no node has booted yet)" in r.stdout


def test_pool_random_file_is_not_a_pool(tmp_path):
    path = tmp_path / "random.pool"
    path.write_bytes(random.Random(1).randbytes(64 << 10))
    with pytest.raises(pool.PoolError, match=r"not a dmos pool \(bad magic 0x[0-9a-f]{16}"):
        pool.read_pool(str(path))
    r = run_dmos("pool", "--pool-path", path)
    assert r.returncode == 1 and r.stderr.startswith("dmos: not a dmos pool (bad magic")


def test_pool_short_file_is_damaged(tmp_path):
    path = tmp_path / "short.pool"
    path.write_bytes(b"DMOSPOOL" + bytes(100))
    with pytest.raises(pool.PoolError, match="damaged pool: .* is 108 bytes, a pool "
                       "is at least 8 KiB"):
        pool.read_pool(str(path))


def test_pool_wrong_version(tmp_path):
    path = write_pool(str(tmp_path / "v2.pool"), size=1 << 20, version=2)
    with pytest.raises(pool.PoolError, match="dmos pool version 2, this tool knows 1"):
        pool.read_pool(path)


@pytest.mark.parametrize("fields,what", [
    (dict(max_nodes=0), "max_nodes is 0"),
    (dict(max_nodes=65), "max_nodes is 65"),
    (dict(table=0x10), "node table at 0x10"),
    (dict(table=(1 << 20) - 64), "node table at 0xfffc0"),
])
def test_pool_damaged_geometry(tmp_path, fields, what):
    path = write_pool(str(tmp_path / "bad.pool"), size=1 << 20, **fields)
    with pytest.raises(pool.PoolError, match="damaged pool: " + what):
        pool.read_pool(path)


def test_pool_reads_superblock_and_node_table(tmp_path):
    path = write_pool(str(tmp_path / "ok.pool"), size=1 << 20, cluster="alpha",
                      claim=2, nodes=[(0, 2, 1, 40, 64 << 20), (1, 4, 3, 7, 32 << 20)])
    p = pool.read_pool(path)
    assert p.formatted and p.version == 1 and p.cluster_id == "alpha"
    assert p.format_claim == 2 and p.max_nodes == 64 and p.expected_nodes == 3
    assert [(n.slot, n.state, n.epoch, n.heartbeat) for n in p.present()] == \
        [(0, "up", 1, 40), (1, "dead", 3, 7)]
    assert p.node(1).local_mem == 32 << 20 and p.node(2).state == "absent"
    r = run_dmos("pool", "--pool-path", path)
    assert r.returncode == 0, r.stderr
    assert "formatted by node 1" in r.stdout and "dead" in r.stdout
    r = run_dmos("pool", "--pool-path", path, "--json")
    assert '"cluster_id": "alpha"' in r.stdout


# --- boot: real QEMU nodes ------------------------------------------------

@pytest.mark.boot
def test_up_detach_then_down_leaves_nothing(launch):
    c = launch(nodes=3)
    assert "waiting for nodes" in c.result.stdout
    assert "3/3 nodes joined" in c.result.stdout
    assert len(c.qemu_procs()) == 3
    assert os.path.exists(c.pool_path)
    st = c.status()
    assert st["running"] and all(n["alive"] for n in st["nodes"])
    c.pool()                                    # readable while running
    port = c.cfg()["node"][2]["gdb_port"]
    r = c.dmos("gdb", 2)
    assert r.stdout.strip() == "gdb -x %s -ex 'target remote 127.0.0.1:%d'" % (
        params.GDBINIT, port)
    pool_path = c.pool_path
    c.down()
    assert c.qemu_procs() == []
    assert not os.path.exists(pool_path)
    assert c.leftovers() == []
    assert all(c.log(n) for n in range(3))      # the logs stay


@pytest.mark.boot
def test_second_up_with_the_same_name_is_refused(launch):
    c = launch(nodes=2)
    pids = c.pids()
    r = run_dmos("up", "--detach", "--cluster", c.name, "-n", 2, "--mem", "64M",
                 "--pool", "64M", "--iso", ISO)
    assert r.returncode == 2
    assert "cluster %r is already running" % c.name in r.stderr
    assert c.pids() == pids and all(c.alive(n) for n in range(2))


@pytest.mark.boot
def test_pool_in_use_is_refused(launch):
    c = launch(nodes=1)
    other = new_name()
    r = run_dmos("up", "--detach", "--cluster", other, "-n", 1, "--mem", "64M",
                 "--pool", "64M", "--iso", ISO, "--pool-path", c.pool_path)
    assert r.returncode == 2 and "is in use by pid" in r.stderr, r.stderr
    assert not os.path.exists(params.run_dir_for(other))


@pytest.mark.boot
def test_ctrl_c_to_foreground_up_cleans_up(launch):
    c = launch(nodes=2, detach=False)
    for n in range(2):
        c.wait_line(n, params.JOIN_RE.pattern)
    deadline = time.monotonic() + 10
    while "node1| " not in c.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "node0| " in c.output() and "node1| " in c.output()
    assert c.interrupt() == 0
    assert c.qemu_procs() == [] and c.leftovers() == []
    assert "got SIGINT" in c.launcher_log()


@pytest.mark.boot
def test_kill_one_node_keeps_the_others(launch):
    c = launch(nodes=3)
    pids = c.pids()
    c.kill(1)
    time.sleep(0.5)
    assert not c.alive(1) and c.alive(0) and c.alive(2)
    assert sorted(c.qemu_procs()) == sorted([pids[0], pids[2]])
    log = c.launcher_log()
    assert "fault: dmos kill 1" in log
    assert "node 1: qemu exited (status -9, killed by SIGKILL)" in log
    assert not os.path.exists(os.path.join(c.run_dir, "node1.sock"))
    st = c.status()
    assert [n["alive"] for n in st["nodes"]] == [True, False, True]
    c.down()
    assert c.leftovers() == []


@pytest.mark.boot
def test_killing_every_qemu_makes_the_supervisor_clean_up(launch):
    c = launch(nodes=2)
    sup = c.supervisor_pid()
    for pid in c.pids().values():
        os.kill(pid, signal.SIGKILL)
    assert c.wait_clean(15) == []
    deadline = time.monotonic() + 5
    while qemu.alive(sup) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not qemu.alive(sup)
    assert "every node has exited" in c.launcher_log()
    c.is_down = True
    r = c.dmos("down")
    assert r.returncode == 1 and "is running" in r.stderr


@pytest.mark.boot
def test_dead_supervisor_takes_its_qemus_along_and_down_cleans(launch):
    c = launch(nodes=2)
    os.kill(c.supervisor_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while c.qemu_procs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.qemu_procs() == []                  # PR_SET_PDEATHSIG
    assert os.path.exists(c.pool_path)           # stale until someone cleans
    r = c.dmos("down")
    assert r.returncode == 0 and "supervisor is gone" in r.stdout, r
    assert c.leftovers() == []
    again = launch(nodes=2, name=c.name)         # the name is free again
    assert again.status()["running"]


@pytest.mark.boot
def test_detach_timeout_names_the_missing_node_and_cleans_up(launch):
    c = launch(nodes=2, check=False, timeout=4, extra=["--gdb-wait", "1"])
    r = c.result
    assert r.returncode == 1
    assert "timed out after 4 s" in r.stderr and "node 1 did not join" in r.stderr
    assert "node1's last console line: (no output at all)" in r.stderr
    assert c.wait_clean(5) == []


@pytest.mark.boot
def test_unused_stale_pool_file_is_replaced(launch):
    name = new_name()
    stale = params.pool_path_for(name)
    with open(stale, "wb") as f:
        f.write(b"junk from a crashed run")
    c = launch(nodes=1, name=name)
    assert "replacing stale pool file %s" % stale in c.result.stdout
    assert os.path.getsize(stale) == 64 << 20
    c.down()
    assert not os.path.exists(stale)
