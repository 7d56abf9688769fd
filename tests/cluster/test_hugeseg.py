"""Large shared segments on 2 MiB pages (docs/design.md, sections 8 and 10).

A segment of 2 MiB or more is one run of pool pages that starts 2 MiB
aligned, and a process maps each whole 2 MiB of it with one large page at
its first touch there. The monitor's `pool` says what the segment table
holds and how many 2 MiB and 4 KiB mappings the node made for segments:

    segments: 1 live, 2049 pages, 2048 of them in 2 MiB runs; mapped here: 4 x 2 MiB, 1 x 4 KiB

What the memory subsystem guarantees still holds under them: a drain moves
the pages while processes map them (at 4 KiB granularity a moved 2 MiB is
mapped 4 KiB at a time from then on; at 2 MiB it moves whole and is mapped
large again), a region failure kills the processes that map the segment
(its pages are vital) and gives an optional-memory program in the same
failure its exception, and the pages go back to the pool at the end.

The program is userland/bin/seglist.c: `produce` builds a linked list of
COUNT 32-byte items in a new segment and waits; `consume` on another node
walks it and checks every item.
"""

import re

import pytest

from dmoslib.logwatch import until
from test_region_fail import regions_of, spawn_lossy

ITEMS = 262144                  # 32 B each, after a 32 B head: 8 MiB + 32 B = 2049 pages
PAGES = 2049
LARGE = 4                       # its whole 2 MiB: pages 0..2047; page 2048 is mapped 4 KiB
PRODUCED = r"seglist: produced %d items in %s at 0x[0-9a-f]+"


def segments(c, n):
    """Node n's `pool` line about segments: (live, pages, in 2 MiB runs, 2 MiB maps, 4 KiB maps)."""
    mark = c.mark(n)
    c.send(n, "pool")
    c.wait_line(n, r"node %d: pool: \d+ pages" % n, since=mark)
    m = re.search(r"^\[[ \d.]+\]\s+segments: (\d+) live, (\d+) pages, (\d+) of them in 2 MiB runs; "
                  r"mapped here: (\d+) x 2 MiB, (\d+) x 4 KiB$", c.log(n)[mark:], re.M)
    assert m, c.log(n)[mark:]
    return tuple(int(x) for x in m.groups())


def produce(c, n, name, count=ITEMS):
    """Spawn seglist produce on node n; its pid, once the list is built and it
    waits for a consumer (it exits when one is done)."""
    mark = c.mark(n)
    c.send(n, "spawn seglist produce %s %d 120" % (name, count))
    pid = int(c.wait_line(n, r"node %d: spawn: seglist is pid (\d+)" % n, since=mark).group(1))
    c.wait_line(n, PRODUCED % (count, name), timeout=60, since=mark)
    return pid


def ended(c, n):
    """Wait until node n's `pool` says no segment is live."""
    assert until(lambda: segments(c, n)[0] == 0, 30, 0.5), "the last detach ends the segment"


def consume(c, n, name, count=ITEMS):
    """Run seglist consume on node n; asserts every item was there and good."""
    mark = c.mark(n)
    c.send(n, "run seglist consume %s %d" % (name, count))
    m = c.wait_line(n, r"node %d: run: seglist \(pid \d+\) exited with status (\d+)" % n,
                    timeout=120, since=mark)
    text = c.log(n)[mark:m.start()]
    assert m.group(1) == "0" and re.search(r"seglist: consumed %d items, sum \d+, 0 bad" % count,
                                            text), text


@pytest.mark.boot
def test_a_large_segment_is_mapped_with_2mib_pages(launch):
    c = launch(nodes=2, mem="64M", pool="64M")
    before = [segments(c, n) for n in range(2)]
    assert before[0][:3] == (0, 0, 0)
    pid = produce(c, 1, "big")
    live, pages, large_pages, large, small = segments(c, 1)
    assert (live, pages, large_pages) == (1, PAGES, PAGES // 512 * 512)
    # the producer touched every page: one fault per 2 MiB
    assert (large - before[1][3], small - before[1][4]) == (LARGE, 1)
    assert sum(regions_of(c.inspect(), pid).values()) == PAGES     # its creator's

    consume(c, 0, "big")
    after = segments(c, 0)
    assert (after[3] - before[0][3], after[4] - before[0][4]) == (LARGE, 1)
    ended(c, 1)
    info = c.inspect()
    assert regions_of(info, pid) == {}
    assert info["allocator"]["leaked"] == 0 and info["allocator"]["inconsistent"] == 0


@pytest.mark.boot
def test_a_small_segment_stays_on_4kib_pages(launch):
    c = launch(nodes=1, mem="64M", pool="64M")
    before = segments(c, 0)
    produce(c, 0, "small", 1000)                    # 32 KiB: 8 pages
    live, pages, large_pages, large, small = segments(c, 0)
    assert (live, pages, large_pages) == (1, 8, 0)
    assert (large - before[3], small - before[4]) == (0, 8), "one fault mapped all 8"


@pytest.mark.boot
@pytest.mark.parametrize("xlate", ["4k", "2m"])
def test_a_drain_moves_a_2mib_mapped_segment(launch, xlate):
    """At 4 KiB granularity the drain moves the pages one block at a time:
    each moved 2 MiB is mapped 4 KiB at a time afterwards. At 2 MiB it moves
    whole, and is mapped with large pages again."""
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=8 xlate=" + xlate})
    pid = produce(c, 1, "big")
    mine = regions_of(c.inspect(), pid)
    before = segments(c, 0)
    mark = c.mark(0)
    for region in sorted(mine):
        c.send(0, "drain %d" % region)
        m = c.wait_line(0, r"node 0: drain: region %d (\S+) in \d+ ms \((-?\d+)\)" % region,
                        timeout=120, since=mark)
        assert m.group(1) == "offline" and m.group(2) == "0", m.group(0)
    moved = regions_of(c.inspect(), pid)
    assert sum(moved.values()) == PAGES and not set(moved) & set(mine), (mine, moved)
    consume(c, 0, "big")                            # every item survived the moves
    after = segments(c, 0)
    large, small = after[3] - before[3], after[4] - before[4]
    if xlate == "2m":
        assert (large, small) == (LARGE, 1)
    else:
        # each 2 MiB is mapped large only if its spares happened to be one
        # aligned run of frames; either way every page is mapped once
        assert large * 512 + small == PAGES, (large, small)
        print("after a 4 KiB drain: %d x 2 MiB, %d x 4 KiB" % (large, small))
    ended(c, 1)


@pytest.mark.boot
def test_a_region_failure_under_a_2mib_mapped_segment(launch):
    """The segment is vital: each process that maps it is killed with the
    reason. An optional-memory program whose pages failed at the same time
    takes its exception and goes on."""
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=8"},
               extra=["--no-disk"])
    pid = produce(c, 1, "big")
    large = segments(c, 1)[3]
    assert large >= LARGE
    opt = spawn_lossy(c, 0, "4", "optional pool")
    info = c.inspect()
    hit = sorted(set(regions_of(info, pid)) | set(regions_of(info, opt)))
    marks = [c.mark(n) for n in range(2)]
    for r in hit:
        res = c.dmos("fail-region", r)
        assert res.returncode == 0, res.stderr
    c.wait_line(1, r"node 1: pid %d \(seglist\) killed: vital memory lost in failed region "
                r"(\d+) at 0x[0-9a-f]+$" % pid, timeout=10, since=marks[1])
    c.wait_line(0, r"node 0: pid %d \(lossy\) lost \d+ KiB of optional memory in region \d+: "
                r"exception raised" % opt, timeout=10, since=marks[0])
    c.wait_line(0, r"lossy: pid %d: rebuilt (\d+) pages, running" % opt, timeout=10,
                since=marks[0])
    ended(c, 0)                     # the kill was its last attachment
    after = c.inspect()
    failed = [reg for reg in after["regions"] if reg["state"] == "failed"]
    # counted once per process that mapped it: what the first failure took of
    # it, and what later ones did if they were noticed before the kill
    seg = regions_of(info, pid)
    assert seg[min(seg)] <= sum(reg["lost_vital"] for reg in failed) <= PAGES, seg
    assert sum(reg["killed"] for reg in failed) == 1
    assert regions_of(after, pid) == {}
    assert after["allocator"]["leaked"] == 0 and after["allocator"]["inconsistent"] == 0
    for n in range(2):
        assert "CPU exception" not in c.log(n)[marks[n]:]


def zero_pages(c, n):
    """Node n's `pool`: (free pages, free pages known to hold zeros, pages its zeroer zeroed)."""
    mark = c.mark(n)
    c.send(n, "pool")
    end = c.wait_line(n, r"node %d: pool: \d+ pages, (\d+) free" % n, since=mark)
    m = re.search(r"^\[[ \d.]+\]\s+zero: (\d+) free pages known to hold zeros; "
                  r"(\d+) zeroed in advance here$", c.log(n)[mark:], re.M)
    assert m, c.log(n)[mark:]
    return int(end.group(1)), int(m.group(1)), int(m.group(2))


@pytest.mark.boot
def test_a_segment_on_the_pages_of_one_just_ended_reads_zero(launch):
    """A fresh pool is known zero page by page, so a new segment zeroes
    nothing. `ubench reuse 40` fills 40 MiB of private pool memory, frees
    it and at once (the node never idles in between, so its zeroer cannot
    run) creates a 40 MiB segment: in a 64 MiB pool that one must take
    pages just written, and every byte of it reads zero; it fills that,
    detaches it (which zeroes it) and creates it again, zero again. Then,
    idle, the node's zeroer zeroes what is left in advance, until every free
    page is known zero again."""
    c = launch(nodes=1, mem="64M", pool="64M")
    free, known, _ = zero_pages(c, 0)
    assert known == free, "a pool file made sparse is all zeros"
    mark = c.mark(0)
    c.send(0, "run ubench reuse 40")
    m = c.wait_line(0, r"node 0: run: ubench \(pid \d+\) exited with status (\d+)",
                    timeout=120, since=mark)
    text = c.log(0)[mark:m.start()]
    assert m.group(1) == "0" and "40 MiB twice, every byte zero" in text, text
    pages = 40 << 8
    assert free - pages < pages, "the segment cannot fit in pages still zero"
    assert until(lambda: zero_pages(c, 0)[1] == zero_pages(c, 0)[0], 30, 0.5), \
        "the zeroer makes every free page known zero again"
    free, known, zeroed = zero_pages(c, 0)
    assert zeroed > 0, "the written pages the segment did not take were zeroed in advance"
