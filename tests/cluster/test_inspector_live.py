"""Tests of the pool inspector (`dmos pool`) on a real cluster's pool.

The inspector reads a live 3-node cluster's pool (nodes up, regions online,
no leaks, the ring mesh), follows pages the nodes take and messages they
send, sees a crashed node's pages taken back, and still reads a kept pool
image after its cluster is down. Synthetic and damaged pools are in
tests/tools/test_inspector.py.
"""

import json
import os

import pytest

from dmoslib import poolimage
from poolcheck import dmos_pool, text_agrees_with_json

MiB = 1 << 20


def inspect_cluster(c):
    r = c.dmos("pool")
    j = c.dmos("pool", "--json")
    assert r.returncode == 0 and j.returncode == 0, (r.stderr, j.stderr)
    return r.stdout, json.loads(j.stdout)


@pytest.mark.boot
def test_inspector_on_a_live_cluster(launch):
    c = launch(nodes=3)
    text, rep = inspect_cluster(c)
    sb = rep["superblock"]
    assert rep["status"] == "formatted" and rep["problems"] == rep["warnings"] == []
    assert sb["cluster_id"] == c.name and sb["expected_nodes"] == 3
    # the kernel formats exactly what poolimage lays out
    want = poolimage.layout(64 * MiB, 3)
    same = set(want) - {"magic", "cluster_id", "format_claim", "reserved", "pad", "pad2", "pad3"}
    assert {k: sb[k] for k in same} == {k: want[k] for k in same}
    assert [(n["slot"], n["state"], n["epoch"], n["dead_by"]) for n in rep["nodes"]] == \
        [(n, "up", 1, None) for n in range(3)]
    peers = [n["doorbell"] for n in rep["nodes"]]
    assert sorted(peers) == [0, 1, 2], peers            # ivshmem peer ids, published
    assert all(g["state"] == "online" and g["used"] == 0 and g["free"] == g["frames"]
               for g in rep["regions"])
    assert sum(g["frames"] for g in rep["regions"]) == sb["npages"]
    a = rep["allocator"]
    assert (a["used"], a["leaked"], a["inconsistent"], a["bad_records"]) == (0, 0, 0, 0)
    assert {(g["from"], g["to"]) for g in rep["rings"]["rings"]} == \
        {(f, t) for f in range(3) for t in range(3) if f != t}
    assert all(g["ok"] for g in rep["rings"]["rings"])
    assert rep["leases"]["count"] == 64 and rep["leases"]["junk"] == []
    text_agrees_with_json(text, rep)

    # pages taken, a lease held and messages sent by the nodes show up
    for n, cmd, done in ((1, "hold 40", "hold: 40 pool pages taken"),
                         (1, "lock 5", "lock: lease 5 taken"),
                         (0, "ping all 25", "ping: 2 ok, 0 failed")):
        m = c.mark(n)
        c.send(n, cmd)
        c.wait_line(n, r"node %d: %s" % (n, done), since=m)
    text, rep = inspect_cluster(c)
    assert rep["leases"]["held"] == [dict(slot=5, node=1, epoch=1, holder="live",
                                          guards=None)]
    assert rep["allocator"]["used_by_node"] == {"1": 40}
    assert rep["allocator"]["chunks_by_node"] == {"1": 1}
    assert sum(g["used_by_node"].get("1", 0) for g in rep["regions"]) == 40
    rings = {(g["from"], g["to"]): g for g in rep["rings"]["rings"]}
    for peer in (1, 2):
        assert rings[0, peer]["sent"] == rings[0, peer]["received"] == 25
        assert rings[peer, 0]["sent"] == 25                 # the pongs
    text_agrees_with_json(text, rep)

    # node 1 crashes: a survivor declares it dead, takes its pages back, breaks its lease
    c.kill(1)
    for n in (0, 2):                        # each survivor says so once it is done
        c.wait_line(n, r"node 1 (declared dead|is dead).*took back", timeout=30)
    text, rep = inspect_cluster(c)
    n1 = rep["nodes"][1]
    assert n1["state"] == "dead" and n1["dead_by"] in (0, 2) and n1["reclaimed"] == 40
    a = rep["allocator"]
    assert (a["used"], a["leaked"], a["chunks_by_node"]) == (0, 0, {})
    assert rep["leases"]["held"] == [] and rep["leases"]["broken"] == [5]
    assert rep["problems"] == []


@pytest.mark.boot
def test_inspector_on_a_kept_pool_after_down(launch, tmp_path):
    image = str(tmp_path / "kept.pool")
    with open(image, "wb") as f:
        f.truncate(64 * MiB)                # unformatted: the first node formats it
    r, rep = dmos_pool(image)
    assert r.returncode == 0 and rep["status"] == "unformatted"
    c = launch(nodes=2, extra=["--pool-path", image])
    m = c.mark(0)
    c.send(0, "hold 7")
    c.wait_line(0, r"node 0: hold: 7 pool pages taken", since=m)
    c.down()
    assert c.leftovers() == [] and os.path.exists(image)
    r, rep = dmos_pool(image)               # no cluster runs; the file stays
    assert r.returncode == 0, r.stderr
    assert rep["superblock"]["cluster_id"] == c.name
    assert [n["state"] for n in rep["nodes"]] == ["up", "up"]   # nobody marked them
    assert rep["allocator"]["used_by_node"] == {"0": 7}
    assert rep["allocator"]["inconsistent"] == 0 and rep["problems"] == []
    text_agrees_with_json(r.stdout, rep)
