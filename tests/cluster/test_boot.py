"""Cluster boot tests: N nodes boot their own kernel, join one pool, say so.

What a user checks after `make run`: every node printed its membership
line, the pool's node table (read from the host) agrees, heartbeats move,
and a node that takes a CPU exception stops alone with a register dump.
"""

import os
import re
import statistics
import time

import pytest

from conftest import write_pool
from dmoslib import pool


def heartbeats(cluster):
    return {n.slot: n.heartbeat for n in cluster.pool().nodes[:cluster.nodes]}


def assert_clocks_agree(cluster, nodes):
    """Every node measured the same APIC timer and TSC rates at boot.

    The nodes run on one host, so their clocks tick alike; a node that got
    descheduled during its calibration and believed it must not stand out
    (its ticks, timeouts and heartbeat deadlines would all be off).
    """
    rates = []
    for n in range(nodes):
        m = re.search(r"apic: id \d+, timer (\d+) kHz, tsc (\d+) MHz", cluster.log(n))
        assert m, "node %d printed no clock rates" % n
        rates.append((int(m.group(1)), int(m.group(2))))
    for i, what in enumerate(("APIC timer kHz", "TSC MHz")):
        mid = statistics.median(r[i] for r in rates)
        for n, r in enumerate(rates):
            assert abs(r[i] - mid) <= mid * 0.02, "node %d %s %d, the cluster's median %d: %s" % (
                n, what, r[i], mid, rates)


@pytest.mark.boot
@pytest.mark.parametrize("nodes", [1, 3, 8])
def test_cluster_boots_and_every_node_joins(launch, nodes):
    c = launch(nodes=nodes, mem="64M", pool="64M", timeout=90)
    members = ",".join(str(i) for i in range(nodes))
    for n in range(nodes):
        c.wait_line(n, r"node %d: cluster up: nodes %s$" % (n, members), timeout=30)
        log = c.log(n)
        assert "mm: " in log and "free blocks by order" in log
        assert "CPU exception" not in log
    assert_clocks_agree(c, nodes)

    p = c.pool()
    assert p.formatted and p.version == pool.POOL_VERSION
    assert p.cluster_id == c.name
    assert p.pool_size == 64 << 20 and p.max_nodes == 64
    assert p.format_claim - 1 in range(nodes)      # one of ours formatted it
    for n in range(nodes):
        e = p.node(n)
        assert (e.state, e.node_id, e.epoch) == ("up", n, 1), e
        assert 40 << 20 < e.local_mem <= 64 << 20
    assert all(e.state == "absent" for e in p.nodes[nodes:])

    before = heartbeats(c)
    time.sleep(1.0)             # a duration, not a wait: the beats of one second
    after = heartbeats(c)
    for n in range(nodes):
        assert after[n] - before[n] >= 20, "node %d heartbeat barely moved: %s -> %s" % (
            n, before[n], after[n])


@pytest.mark.boot
def test_deliberate_fault_halts_only_that_node(launch):
    c = launch(nodes=3, node_args={1: "fault=pf"})
    m = c.wait_line(1, r"CPU exception 14 \(page fault\)", timeout=30)
    log = c.log(1)[m.start():]
    assert "faulting address 0x000000000dead000 (not present, write, kernel)" in log
    for reg in ("rip", "rsp", "rax", "r15", "cr2"):
        assert reg + " " in log
    c.wait_line(1, r"node 1: halted$")

    # the survivors see it halted and declare it dead, exactly one of them
    declared = [c.wait_line(n, r"node %d: node 1 (declared dead \(it halted\)|is dead "
                               r"\(declared by node \d\))" % n, timeout=10) for n in (0, 2)]
    assert sum("declared dead" in m.group(0) for m in declared) == 1, declared
    before = heartbeats(c)
    time.sleep(1.0)             # a duration: one second in which node 1 must not beat
    after = heartbeats(c)
    p = c.pool()
    assert p.node(1).state == "dead"
    assert after[1] == before[1], "a halted node's heart must stop"
    for n in (0, 2):
        assert p.node(n).state == "up"
        assert after[n] > before[n] + 20, "node %d stopped beating" % n
        assert "CPU exception" not in c.log(n)
    assert all(c.alive(n) for n in range(3)), "halting must not kill any QEMU"


@pytest.mark.boot
@pytest.mark.parametrize("kind,vector,name", [
    ("ud", 6, "invalid opcode"),
    ("gp", 13, "general protection"),
    ("de", 0, "divide error"),
])
def test_other_exceptions_dump_and_halt(launch, kind, vector, name):
    c = launch(nodes=1, node_args={0: "fault=" + kind})
    c.wait_line(0, r"CPU exception %d \(%s\)" % (vector, name))
    c.wait_line(0, r"node 0: halted$")
    assert c.pool().node(0).state == "halted"     # nobody is left to declare it dead


@pytest.mark.boot
@pytest.mark.parametrize("kind,message", [
    ("cluster", r"pool refused: pool belongs to cluster 'other', this node is in cluster '"),
    ("version", r"pool refused: dmos pool format version 7, want version 5"),
    ("magic", r"pool refused: not a dmos pool \(bad magic 0x0000000000001234, want "),
])
def test_node_refuses_a_bad_pool(launch, tmp_path, kind, message):
    path = str(tmp_path / "bad.pool")
    if kind == "cluster":
        write_pool(path, cluster="other")
    elif kind == "version":
        write_pool(path, version=7)
    else:
        write_pool(path, magic=0x1234)
    before = open(path, "rb").read(8192)
    c = launch(nodes=1, pool="64M", extra=["--pool-path", path], detach=False)
    c.wait_line(0, message, timeout=30)
    c.wait_line(0, r"node 0: running without the pool")
    c.down()
    assert os.path.exists(path), "a pool image the user gave must be kept"
    assert open(path, "rb").read(8192) == before, "a refused pool must not be written"
