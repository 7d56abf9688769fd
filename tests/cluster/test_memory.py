"""Memory of processes on a node: what a process costs, targeted allocations
that take seconds, and processes that run out of memory.

- A process's address space reserves a 512 MiB heap, but its slot tables
  grow as pages are touched: a 64 MiB node runs as many processes as its
  process table holds, each costing well under 1 MiB.
- A targeted dm_alloc fills every page before it returns (2 GiB of pool is
  about 12 s under TCG): the node's other processes go on meanwhile, a kill
  of the caller stops it, and one that runs out midway gives back what it
  took.
- A process whose page fault cannot get memory is killed for being out of
  memory (SIGKILL, as Linux's OOM killer), not for a page fault; a bad
  address is still a page fault (SIGSEGV).

Programs run from a node's kernel monitor; see test_programs.py.
"""

import re
import time

import pytest

from dmoslib.logwatch import until
from test_programs import run

SPAWNED = r"node %d: spawn: %s is pid (\d+)"


def spawn(c, n, line):
    """Start a program on node n's monitor without waiting; returns its pid."""
    prog = line.split()[0]
    mark = c.mark(n)
    c.send(n, "spawn " + line)
    return int(c.wait_line(n, SPAWNED % (n, re.escape(prog)), since=mark).group(1))


def local_free_kib(c, n):
    status, out = run(c, n, "free -k")
    assert status == 0, out
    m = re.search(r"^local:\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert m, out
    return int(m.group(3))


def pool_used(c, n):
    """Pool pages node n uses now (the monitor's `pool`)."""
    mark = c.mark(n)
    c.send(n, "pool")
    c.wait_line(n, r"node %d: pool: \d+ pages" % n, since=mark)
    m = re.search(r"node %d uses (\d+) pool pages" % n, c.log(n)[mark:])
    assert m, c.log(n)[mark:]
    return int(m.group(1))


def pid_alive(c, n, pid):
    """Is pid still in node n's process list (the monitor's `ps`)?"""
    mark = c.mark(n)
    c.send(n, "ps")
    m = c.wait_line(n, r"node %d: ps: (\d+) processes" % n, since=mark)
    return re.search(r"^\[[ \d.]+\]\s+%d\s" % pid, c.log(n)[mark:m.start()], re.M) is not None


def procs(c, n):
    """Names of node n's processes (the monitor's `ps`)."""
    mark = c.mark(n)
    c.send(n, "ps")
    m = c.wait_line(n, r"node %d: ps: (\d+) processes" % n, since=mark)
    text = c.log(n)[mark:m.start()]
    return re.findall(r"^\[[ \d.]+\]\s+\d+\s+\d+\s+\w+.*?\s(\S+)\s*$", text, re.M)


@pytest.mark.boot
def test_a_64mib_node_runs_as_many_processes_as_its_table_holds(launch):
    c = launch(nodes=1, mem="64M", pool="256M")
    status, out = run(c, 0, "dmtest spawn_until_full", timeout=240)
    assert status == 0 and re.search(r"^ok 1 spawn_until_full", out, re.M), out
    m = re.search(r"# (\d+) processes ran at once here; the next was refused with (\w+)", out)
    assert m, out
    print("64 MiB node: %s processes at once, then %s" % (m.group(1), m.group(2)))
    # memory is no longer what runs out first: the process table (63 slots) is
    assert m.group(2) == "EAGAIN" and int(m.group(1)) >= 55, m.group(0)

    # what one more process costs: 16 that sleep
    before = local_free_kib(c, 0)
    for _ in range(16):
        spawn(c, 0, "dmtest --child sleep 60000")
    after = local_free_kib(c, 0)
    each = (before - after) / 16
    print("one sleeping dmtest costs %.0f KiB of local memory" % each)
    assert 0 < each < 1024, (before, after)


@pytest.mark.boot
def test_other_processes_run_during_a_big_targeted_allocation(launch):
    c = launch(nodes=1, mem="128M", pool="2G")
    status, out = run(c, 0, "bigalloc 1024 pool --beside", timeout=300)
    assert status == 0 and "bigalloc: ok" in out, out
    m = re.search(r"beside the allocation \((\d+) ms\), pid \d+ on this node had (\d+) turns; "
                  r"its longest wait was (\d+) ms", out)
    assert m, out
    alloc_ms, turns, longest = (int(g) for g in m.groups())
    print("1 GiB from the pool in %d ms; the other process had %d turns, waited %d ms at most"
          % (alloc_ms, turns, longest))
    assert alloc_ms >= 1000, "too fast to tell: %s" % m.group(0)
    assert turns > 100, m.group(0)
    # without preemption it waits the whole allocation; a slice is 10 ms
    assert longest < min(1000, alloc_ms / 3), m.group(0)


@pytest.mark.boot
def test_a_killed_caller_stops_its_allocation_and_gives_everything_back(launch):
    # no disk: programs from the initrd, so no page cache in the pool beside the processes
    c = launch(nodes=1, mem="128M", pool="2G", extra=["--no-disk"])
    base = pool_used(c, 0)
    mark = c.mark(0)
    pid = spawn(c, 0, "bigalloc 1800 pool")           # 10 s or more of filling

    def filling():
        """Has it taken 1000 pages yet? The monitor must answer meanwhile."""
        t0 = time.monotonic()
        used = pool_used(c, 0)
        assert time.monotonic() - t0 < 3, "the monitor could not answer during the allocation"
        return used > base + 1000
    assert until(filling, 10, 0.2), "the allocation did not start"
    t0 = time.monotonic()
    status, out = run(c, 0, "kill %d" % pid)
    assert status == 0, out
    # nothing prints when a spawned process dies of a signal: ps says it
    assert until(lambda: "bigalloc" not in procs(c, 0), 3, 0.2), \
        "bigalloc still runs 3 s after its kill"
    print("killed during its allocation; gone %.1f s after the kill" % (time.monotonic() - t0))
    assert "bigalloc: 1800 MiB pool" not in c.log(0)[mark:], "the allocation finished"
    assert pool_used(c, 0) <= base + 16, "pool pages left behind"
    status, out = run(c, 0, "bigalloc 64 pool")       # the pool is whole
    assert status == 0 and "bigalloc: ok" in out, out


@pytest.mark.boot
def test_an_allocation_that_runs_short_midway_gives_back_what_it_took(launch):
    # no disk: programs from the initrd, so no page cache in the pool beside the processes
    c = launch(nodes=1, mem="128M", pool="512M", extra=["--no-disk"])
    mark = c.mark(0)
    c.send(0, "pool")
    free = int(c.wait_line(0, r"node 0: pool: \d+ pages, (\d+) free", since=mark).group(1))
    base = pool_used(c, 0)
    mib = free * 4096 * 6 // 10 >> 20                  # 60%: it passes the up-front check
    pid = spawn(c, 0, "bigalloc %d pool" % mib)
    assert until(lambda: pool_used(c, 0) >= base + 1000, 30, 0.1), \
        "the allocation did not start"                 # it has begun to fill
    # The kernel monitor takes half the pool at once, while bigalloc is still
    # filling: what bigalloc was promised up front is no longer there.
    mark = c.mark(0)
    c.send(0, "hold %d" % (free // 2))
    held = c.wait_line(0, r"node 0: hold: (\d+) pool pages taken", since=mark)
    assert int(held.group(1)) == free // 2, held.group(0)
    c.wait_line(0, r"bigalloc: %d MiB pool: " % mib, timeout=90, since=mark)
    assert until(lambda: not pid_alive(c, 0, pid), 10, 0.5), "bigalloc did not end"
    log = c.log(0)
    short = re.findall(r"bigalloc: %d MiB pool: [^\n]* after (\d+) ms" % mib, log)
    assert len(short) == 1 and "bigalloc: ok" not in log, log[-3000:]
    print("%d MiB of %d MiB free, then half the pool taken: it ran short after %s ms"
          % (mib, free >> 8, short[0]))
    assert int(short[0]) >= 200, "it was refused at once, not midway: " + short[0]
    assert pool_used(c, 0) <= base + free // 2 + 16, "bigalloc left pool pages behind"
    mark = c.mark(0)
    c.send(0, "release")
    assert c.wait_line(0, r"node 0: release: \d+ pool pages freed, (\d+) bad",
                       since=mark).group(1) == "0"
    assert pool_used(c, 0) <= base + 16, "pool pages left behind"


@pytest.mark.boot
def test_a_fault_that_finds_no_memory_is_reported_as_out_of_memory(launch):
    c = launch(nodes=1, mem="64M", pool="16M")
    status, out = run(c, 0, "bigalloc 128 malloc", timeout=300)     # more than local + pool
    log = c.log(0)
    m = re.search(r"node 0: pid \d+ \(bigalloc\) killed: (.*)", log)
    assert m and m.group(1).startswith("out of memory at 0x"), m and m.group(0)
    assert status is None and re.search(r"run: bigalloc \(pid \d+\) killed by signal 9", log), out
    assert "page fault" not in m.group(0)

    # a bad address is still a page fault, with SIGSEGV
    mark = c.mark(0)
    status, out = run(c, 0, "dmtest child_segfault use_after_dm_free", timeout=120)
    assert status == 0 and "dmtest: 2 passed, 0 failed" in out, out
    kills = re.findall(r"node 0: pid \d+ \(dmtest\) killed: (\S+ \S+)", c.log(0)[mark:])
    assert kills == ["page fault", "page fault"], kills

    status, out = run(c, 0, "bigalloc 8 any")       # the node is healthy, its memory back
    assert status == 0 and "bigalloc: ok" in out, out
    assert "CPU exception" not in c.log(0)
