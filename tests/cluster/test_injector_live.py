"""Tests of the fault injector (`dmos fail-region`, `dmos fail-link`) on
live clusters.

A region fails under a running 1-node cluster (the node stays up, the
launcher's log has it, a second time is refused), then in the pool image the
cluster leaves behind, with exactly the protocol's bytes changed. A link
goes down on a running 3-node cluster: every refusal first (a killed node,
a halted one, a node out of range, a link already down: no NMI), then the
injection, seen in the launcher's log, `dmos status` and the pool. The same
on synthetic pools is in tests/tools/test_injector.py.
"""

import json
import os
import re

import pytest

from dmoslib import poolmem
from dmoslib.pool import PAGE_SIZE, PoolFile, parse
from poolcheck import expected_after, fail, read, refused, report

MiB = 1 << 20


# --- a real cluster, and the pool image it leaves ------------------------------

@pytest.mark.boot
def test_injection_into_a_live_cluster_and_its_kept_pool(launch, tmp_path):
    image = str(tmp_path / "kept.pool")
    with open(image, "wb") as f:
        f.truncate(32 * MiB)
    c = launch(nodes=1, pool="32M", node_args={"all": "region=4"},
               extra=["--pool-path", image])
    m = c.mark(0)
    c.send(0, "hold 1100")                        # regions 0 and 1 (1024 pages each)
    c.wait_line(0, r"node 0: hold: 1100 pool pages taken", since=m)
    rep = json.loads(c.dmos("pool", "--json").stdout)
    sb = rep["superblock"]
    assert (sb["region_pages"], sb["regions"], sb["npages"]) == (1024, 8, 7680)
    assert [g["used"] for g in rep["regions"][:3]] == [1024, 76, 0]

    # live: a region nobody uses; the launcher's log has it, the node stays up
    r = c.dmos("fail-region", "5")
    assert r.returncode == 0 and r.stdout == \
        "dmos: region 5 failed (injected): 1024 device frames destroyed\n", r.stderr
    assert "fault: dmos fail-region 5: region 5 failed (failure 1), 1024 device frames " \
        "destroyed" in c.launcher_log()
    assert refused(c.dmos("fail-region", "5")) == "dmos: region 5 has already failed"
    m = c.mark(0)
    c.send(0, "nodes")
    c.wait_line(0, r"node 0: nodes: 1", since=m)
    g = json.loads(c.dmos("pool", "--json").stdout)["regions"][5]
    assert (g["state"], g["failed_seq"]) == ("failed", 1)
    c.down()

    # the kept image: region 1 holds the node's pages; its neighbours keep every byte
    with PoolFile(image) as f:
        regions_off = poolmem.read_xlate(f, parse(f))[2].hdr["regions_off"]
    before = read(image)
    assert fail(image, 1).returncode == 0
    after = read(image)
    assert after == expected_after(before, sb, regions_off, 1, 2)
    first = sb["data_off"] + 1024 * PAGE_SIZE
    assert before[first - PAGE_SIZE:first] == after[first - PAGE_SIZE:first] != \
        bytes(PAGE_SIZE)                            # region 0's last page: the node's data
    assert fail(image, 7).stdout == \
        "dmos: region 7 failed (injected): 512 device frames destroyed\n"   # short, last
    rep = report(image)
    assert [(g["region"], g["state"], g["failed_seq"]) for g in rep["regions"]
            if g["state"] != "online"] == [(1, "failed", 2), (5, "failed", 1),
                                           (7, "failed", 3)]
    assert rep["translation"]["failures"] == 3
    assert rep["regions"][1]["used_by_node"] == {"0": 76}
    assert rep["problems"] == []


@pytest.mark.boot
def test_fail_link_on_a_live_cluster(launch):
    """Node 2 halts (fault=pf), node 1 is killed, node 0 loses its link: every
    refusal first, then the injection (whatever the kernel makes of the NMI)."""
    c = launch(nodes=3, name="lnk-%d-inj" % os.getpid(), node_args={2: "fault=pf"})
    c.wait_line(2, r"node 2: halted$")
    c.kill(1)
    m = refused(c.dmos("fail-link", "1"))           # dead or not: its QEMU is gone
    assert re.fullmatch(r"dmos: (node 1 of cluster %s is not running \(.*\)|node 1 is not "
                        r"up: the pool's node table says dead \(declared by node 0\))"
                        % c.name, m), m
    m = refused(c.dmos("fail-link", "2"))
    assert re.fullmatch(r"dmos: node 2 is not up: the pool's node table says (halted|dead "
                        r"\(declared by node [01]\))", m), m
    for bad, message in (("3", "node 3 is not in 0..2 (the cluster has 3 nodes)"),
                         ("x", "node 'x' is not a number (the cluster has nodes 0..2)")):
        assert refused(c.dmos("fail-link", bad)) == "dmos: " + message

    # a link already down (written here, as if injected before): refused, no NMI
    off = c.pool().node_table_off + 48
    fd = os.open(c.pool_path, os.O_RDWR)
    try:
        os.pwrite(fd, (1).to_bytes(8, "little"), off)
        assert refused(c.dmos("fail-link", "0")) == \
            "dmos: node 0's link to the pool is already down"
        assert os.pread(fd, 8, off) == (1).to_bytes(8, "little")
        os.pwrite(fd, bytes(8), off)
    finally:
        os.close(fd)
    m = c.mark(0)
    c.send(0, "nodes")
    c.wait_line(0, r"node 0: nodes: \d+", since=m)
    assert "NMI" not in c.log(0) and "fail-link" not in c.launcher_log()
    assert [n["link_down"] for n in c.status()["nodes"]] == [False, False, False]

    # the injection
    m = c.mark(0)
    r = c.dmos("fail-link", "0")
    assert (r.returncode, r.stdout, r.stderr) == \
        (0, "dmos: node 0 lost the pool (link down injected)\n", "")
    pid = c.pids()[0]
    assert "fault: dmos fail-link 0: node 0 lost the pool: link_down set in its node-table " \
        "entry, NMI sent to qemu pid %d\n" % pid in c.launcher_log()
    n0 = json.loads(c.dmos("pool", "--json").stdout)["nodes"][0]
    assert n0["link_down"] is True
    assert [n["link_down"] for n in c.status()["nodes"]] == [True, False, False]
    text = c.dmos("status").stdout
    assert re.search(r"^  0 +pid %d alive +\d+ +\S+ +down " % pid, text, re.M), text
    assert refused(c.dmos("fail-link", "0")) == \
        "dmos: node 0's link to the pool is already down"
    # a kernel that knows the link loses the pool; an older one halts on the NMI
    c.wait_line(0, r"node 0: (lost the pool \(link down\)|halted$)", since=m)
    assert c.alive(0)
