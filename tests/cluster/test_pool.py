"""The pool as a managed resource, driven from inside the nodes.

Each node's kernel monitor (its serial console) allocates and frees pool
pages, drains regions and pings other nodes; the tests check what the nodes
report and what the pool holds afterwards (read from the host).
"""

import re
import time

import pytest


def pool_line(c, n):
    m = c.command(n, "pool", r"node %d: pool: (\d+) pages, (\d+) free, (\d+) reserved, "
                r"(\d+) held here, (\d+) inconsistent" % n)
    return [int(x) for x in m.groups()]


@pytest.mark.boot
def test_concurrent_alloc_and_free_leak_nothing(launch):
    c = launch(nodes=3, pool="256M")
    marks = {n: c.mark(n) for n in range(3)}
    for n in range(3):
        c.send(n, "stress 4 2000")
    for n in range(3):
        m = c.wait_line(n, r"node %d: stress: (\d+) allocs, (\d+) frees, (\d+) bad" % n,
                        timeout=60, since=marks[n])
        allocs, frees, bad = map(int, m.groups())
        assert allocs > 1000 and allocs == frees and bad == 0, m.group(0)
    pages, free, reserved, held, inconsistent = pool_line(c, 0)
    assert free == pages and reserved == 0 and inconsistent == 0
    out = c.log(0)
    for n in range(3):
        assert re.search(r"node %d uses 0 pool pages" % n, out)
    alloc = c.inspect()["allocator"]
    assert alloc["used"] == 0 and alloc["free"] == alloc["npages"]
    assert alloc["leaked"] == 0 and alloc["inconsistent"] == 0 and alloc["bad_records"] == 0


@pytest.mark.boot
def test_drain_a_region_while_nodes_keep_allocating(launch):
    c = launch(nodes=3, pool="256M")
    c.command(1, "hold 12000", r"node 1: hold: 12000 pool pages taken")
    mark2 = c.mark(2)
    c.send(2, "stress 6 2000")
    m = c.command(0, "drain 1", r"node 0: drain: region 1 (\S+) in (\d+) ms \((-?\d+)\)",
                timeout=120)
    assert m.group(1) == "offline" and m.group(3) == "0", m.group(0)
    m = c.wait_line(2, r"node 2: stress: (\d+) allocs, (\d+) frees, (\d+) bad", timeout=60,
                    since=mark2)
    assert int(m.group(1)) > 1000 and m.group(3) == "0", m.group(0)
    # every page node 1 held kept its data through the moves
    c.command(1, "release", r"node 1: release: 12000 pool pages freed, 0 bad")
    c.command(0, "regions", r"node 0: regions:")
    assert re.search(r"region 1: offline", c.log(0))
    pages, free, reserved, held, inconsistent = pool_line(c, 0)
    moves = int(re.findall(r"translation: .*?, (\d+) moves", c.log(0))[-1])
    assert moves > 0, "region 1 held live pages: the drain had to move some"
    assert reserved == 0 and inconsistent == 0
    # no page can be handed out from the offline region any more
    c.command(2, "hold 50000", r"node 2: hold: \d+ pool pages taken")
    c.command(2, "release", r"node 2: release: \d+ pool pages freed, 0 bad")


@pytest.mark.boot
def test_a_killed_node_is_declared_dead_and_its_pages_come_back(launch):
    c = launch(nodes=3, pool="128M")
    c.command(1, "hold 3000", r"node 1: hold: 3000 pool pages taken")
    marks = {n: c.mark(n) for n in (0, 2)}
    t0 = time.monotonic()
    c.kill(1)
    taken = 0
    declared = 0
    for n in (0, 2):
        m = c.wait_line(n, r"node %d: node 1 (declared dead \(no heartbeat for (\d+) ms\)|is dead "
                        r"\(declared by node \d\)); took back (\d+) pool pages" % n,
                        timeout=15, since=marks[n])
        taken += int(m.group(3))
        declared += m.group(0).count("declared dead")
    elapsed = time.monotonic() - t0
    assert declared == 1, "exactly one survivor declares it"
    assert taken == 3000, "its 3000 pages come back exactly once"
    bound = 2.0                         # DEAD_AFTER_MS, the default dead_after
    assert elapsed < bound + 3, "declared dead %.1f s after the kill" % elapsed
    assert c.pool().node(1).state == "dead"
    pages, free, reserved, held, inconsistent = pool_line(c, 0)
    assert free == pages and inconsistent == 0
    alloc = c.inspect()["allocator"]
    assert alloc["leaked"] == 0 and alloc["used"] == 0, alloc
    assert c.alive(0) and c.alive(2)


@pytest.mark.boot
def test_message_round_trip_between_every_pair(launch):
    c = launch(nodes=3)
    for n in range(3):
        c.command(n, "ping all 20", r"node %d: ping: 2 ok, 0 failed" % n)
        for m in range(3):
            if m != n:
                assert re.search(r"node %d -> %d: 20 round trips" % (n, m), c.log(n))


@pytest.mark.boot
def test_a_dead_lease_holder_does_not_wedge_the_cluster(launch):
    c = launch(nodes=3)
    c.command(1, "lock 5", r"node 1: lock: lease 5 taken")
    c.command(0, "lock 5", r"node 0: lock: lease 5 busy")        # held by a live node
    mark = c.mark(0)
    c.send(0, "lock 5 20")                                       # wait for it
    # the monitor echoes a line as it is typed and runs it at its newline:
    # once the echo is whole, node 0 is inside `lock`, waiting on node 1
    c.wait_line(0, r"^lock 5 20$", since=mark)
    c.kill(1)
    m = c.wait_line(0, r"node 0: lock: lease 5 (taken over from a dead holder after (\d+) ms|.*)",
                    timeout=30, since=mark)
    assert "taken over" in m.group(0), m.group(0)
    c.command(0, "unlock 5", r"node 0: unlock: lease 5 released")
    c.command(2, "lock 5", r"node 2: lock: lease 5 taken$")
