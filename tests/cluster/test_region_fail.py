"""Region failure and optional memory: what docs/design.md (section 12) asks.

A region of the pool fails (the host injector, `dmos fail-region`, wipes it
and marks it failed). Processes that held optional memory there take an
exception and keep running; processes that held vital memory there are
killed with a clear reason (their parent sees SIGBUS); processes elsewhere
notice nothing; every kernel stays up; the region table counts what was
lost and the allocator leaks nothing.

The program is userland/bin/lossy.c: it fills its memory with a pattern,
checks it every second and rebuilds what it lost when told.
"""

import pytest

from dmoslib.logwatch import until

READY = r"lossy: pid (\d+): \d+ MiB of %s memory at 0x[0-9a-f]+, ready"
SIGBUS = 10                     # newlib numbers it so; dm_abi.h says the kernel does too


def spawn_lossy(c, n, args, kind, run=False):
    """Start lossy on node n (spawn, or run: the monitor waits for it); its pid."""
    mark = c.mark(n)
    c.send(n, "%s lossy %s" % ("run" if run else "spawn", args))
    return int(c.wait_line(n, READY % kind, timeout=60, since=mark).group(1))


def regions_of(info, pid):
    """{region: pages} of pid's pool pages, as the allocator's records say."""
    return {reg["region"]: reg["used_by_pid"][str(pid)] for reg in info["regions"]
            if str(pid) in reg["used_by_pid"]}


def alive_after(c, n, pid, mark, timeout=10):
    return c.wait_line(n, r"lossy: pid %d: alive, \d+ checks, data intact" % pid,
                       timeout=timeout, since=mark)


@pytest.mark.boot
def test_region_failure_spares_optional_memory_and_kills_for_vital(launch):
    # no disk: programs from the initrd, so no page cache in the pool beside the processes
    c = launch(nodes=3, mem="64M", pool="64M", node_args={"all": "region=8"},
               extra=["--no-disk"])
    opt = spawn_lossy(c, 0, "4", "optional pool")
    vital = spawn_lossy(c, 1, "--vital 4", "vital pool", run=True)
    local = spawn_lossy(c, 2, "--local 4", "local")

    before = c.inspect()
    hit = sorted(set(regions_of(before, opt)) | set(regions_of(before, vital)))
    assert sum(regions_of(before, opt).values()) == 1024, before["regions"]
    assert sum(regions_of(before, vital).values()) == 1024
    assert regions_of(before, local) == {}, "local memory must not be in the pool"

    marks = [c.mark(n) for n in range(3)]
    for r in hit:
        res = c.dmos("fail-region", r)
        assert res.returncode == 0, res.stderr
        assert "region %d failed" % r in res.stdout

    # every kernel notices every failed region
    for n in range(3):
        for r in hit:
            c.wait_line(n, r"node %d: region %d failed$" % (n, r), timeout=10, since=marks[n])

    # optional memory: the exception, the pages read zero, rebuilt, running
    c.wait_line(0, r"node 0: pid %d \(lossy\) lost \d+ KiB of optional memory in region \d+: "
                r"exception raised" % opt, timeout=10, since=marks[0])
    exc = c.wait_line(0, r"lossy: pid %d: exception: lost (\d+) bytes at 0x[0-9a-f]+ "
                      r"\(region (\d+)\)" % opt, timeout=10, since=marks[0])
    assert int(exc.group(2)) in hit
    rebuilt = c.wait_line(0, r"lossy: pid %d: rebuilt (\d+) pages, running" % opt,
                          timeout=10, since=marks[0])
    alive_after(c, 0, opt, rebuilt.end())

    # vital memory: killed with the reason; its parent sees SIGBUS
    kill = c.wait_line(1, r"node 1: pid %d \(lossy\) killed: vital memory lost in failed "
                       r"region (\d+) at 0x[0-9a-f]+$" % vital, timeout=10, since=marks[1])
    assert int(kill.group(1)) in hit
    c.wait_line(1, r"node 1: run: lossy \(pid %d\) killed by signal %d$" % (vital, SIGBUS),
                timeout=10, since=marks[1])

    # local memory: nothing happens to it
    alive_after(c, 2, local, c.mark(2))
    for n in range(3):
        text = c.log(n)[marks[n]:]
        assert "DATA CORRUPT" not in text and "CPU exception" not in text, text

    # the kernels stay up: they answer, their hearts beat
    beats = {e.slot: e.heartbeat for e in c.pool().nodes[:3]}
    for n in range(3):
        mark = c.mark(n)
        c.send(n, "nodes")
        c.wait_line(n, r"node %d: nodes: 3$" % n, timeout=10, since=mark)
    mark = c.mark(2)
    c.send(2, "online %d" % hit[0])
    c.wait_line(2, r"node 2: online: region %d has failed; it stays out of use$" % hit[0],
                timeout=10, since=mark)
    assert all(e.state == "up" and e.heartbeat > beats[e.slot] for e in c.pool().nodes[:3])

    # the pool: what was lost is counted, nothing leaked, the rebuild is elsewhere
    after = c.inspect()
    failed = [reg for reg in after["regions"] if reg["state"] == "failed"]
    assert [reg["region"] for reg in failed] == hit
    assert sum(reg["lost_optional"] for reg in failed) == 1024
    assert sum(reg["lost_vital"] for reg in failed) == 1024
    assert sum(reg["killed"] for reg in failed) == 1
    assert regions_of(after, vital) == {}, "a killed process's pages go back"
    mark = c.mark(2)                                # what a program learns: free
    c.send(2, "run free")
    c.wait_line(2, r"^pool: %d regions failed, %d MiB of it lost$" % (
        len(hit), sum(reg["frames"] for reg in failed) * 4096 >> 20), timeout=10, since=mark)
    now = regions_of(after, opt)
    assert sum(now.values()) == 1024 and not set(now) & set(hit), now
    assert after["allocator"]["leaked"] == 0 and after["allocator"]["inconsistent"] == 0


@pytest.mark.boot
def test_a_failure_elsewhere_touches_nothing_and_the_monitor_counts_its_pages(launch):
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=8"})
    opt = spawn_lossy(c, 0, "2", "optional pool")
    mark = c.mark(1)
    c.send(1, "hold 3000")
    c.wait_line(1, r"node 1: hold: ", timeout=10, since=mark)

    info = c.inspect()
    mine = set(regions_of(info, opt))
    kernel1 = regions_of(info, 1000000)             # node 1's kernel thread holds them
    assert sum(kernel1.values()) == 3000, info["regions"]
    spare = [reg["region"] for reg in info["regions"]
             if reg["used"] == 0 and reg["state"] == "online"]
    assert spare, "a region with nothing in it"

    # a region nobody uses: every node says so, nobody loses anything
    marks = [c.mark(n) for n in range(2)]
    assert c.dmos("fail-region", spare[0]).returncode == 0
    for n in range(2):
        c.wait_line(n, r"node %d: region %d failed$" % (n, spare[0]), timeout=10, since=marks[n])
    alive_after(c, 0, opt, c.mark(0))
    assert "exception" not in c.log(0)[marks[0]:]

    # the monitor's own pool pages: dropped and counted as vital losses
    target = sorted(set(kernel1) - mine)
    if not target:
        pytest.skip("node 1's pages share every region with node 0's program")
    marks = [c.mark(n) for n in range(2)]
    assert c.dmos("fail-region", target[0]).returncode == 0
    lost = c.wait_line(1, r"node 1: monitor: (\d+) held pool pages lost in failed regions",
                       timeout=10, since=marks[1])
    assert int(lost.group(1)) == kernel1[target[0]]
    alive_after(c, 0, opt, c.mark(0))
    reg = c.inspect()["regions"][target[0]]
    assert reg["lost_vital"] == kernel1[target[0]] and reg["killed"] == 0
    # the rest of its pages are still good: release checks every stamp
    mark = c.mark(1)
    c.send(1, "release")
    m = c.wait_line(1, r"node 1: release: (\d+) pool pages freed, (\d+) bad", timeout=10, since=mark)
    assert (int(m.group(1)), int(m.group(2))) == (3000 - kernel1[target[0]], 0)


@pytest.mark.boot
def test_a_shared_segment_is_vital(launch):
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=8"})
    mark = c.mark(1)
    c.send(1, "run seglist produce lostseg 5000 120")
    c.wait_line(1, r"seglist: produced 5000 items in lostseg", timeout=30, since=mark)
    info = c.inspect()
    owners = {int(p) for reg in info["regions"] for p in reg["used_by_pid"]
              if int(p) // 1000000 == 1 and int(p) % 1000000}
    assert len(owners) == 1, info["regions"]        # the producer made it
    pid = owners.pop()
    for r in sorted(regions_of(info, pid)):
        assert c.dmos("fail-region", r).returncode == 0
    # it sleeps in a futex wait: the kill wakes it
    c.wait_line(1, r"node 1: pid %d \(seglist\) killed: vital memory lost in failed region \d+"
                % pid, timeout=10, since=mark)
    c.wait_line(1, r"node 1: run: seglist \(pid %d\) killed by signal %d$" % (pid, SIGBUS),
                timeout=10, since=mark)
    after = c.inspect()
    assert regions_of(after, pid) == {}, "the last detach gave the segment's pages back"
    assert after["allocator"]["leaked"] == 0 and after["allocator"]["inconsistent"] == 0


@pytest.mark.boot
def test_a_region_that_fails_while_it_drains(launch):
    """The drain stops (EIO) and moves nothing wiped: what was still on the
    region is lost and reported, what had moved is intact."""
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=16"})
    opt = spawn_lossy(c, 1, "12", "optional pool")
    mine = regions_of(c.inspect(), opt)
    region = max(mine, key=mine.get)
    assert mine[region] > 2000, mine

    marks = [c.mark(n) for n in range(2)]
    c.send(0, "drain %d" % region)
    # the monitor echoes a line as it is typed and runs it at its newline:
    # once the echo is whole, node 0 is draining; the region fails while it
    # drains or, if the drain is quick, just after: both outcomes are checked
    c.wait_line(0, r"^drain %d$" % region, since=marks[0])
    assert c.dmos("fail-region", region).returncode == 0
    m = c.wait_line(0, r"node 0: drain: region %d (offline|NOT drained) in \d+ ms \((-?\d+)\)"
                    % region, timeout=30, since=marks[0])
    if m.group(1) == "NOT drained":
        assert m.group(2) == "-5", m.group(0)           # EIO: failed under it
    c.wait_line(1, r"node 1: region %d failed$" % region, timeout=10, since=marks[1])
    alive_after(c, 1, opt, c.mark(1), timeout=15)
    text = c.log(1)[marks[1]:]
    assert "DATA CORRUPT" not in text, text
    after = c.inspect()
    assert after["allocator"]["leaked"] == 0 and after["allocator"]["inconsistent"] == 0
    assert sum(regions_of(after, opt).values()) == 3072


@pytest.mark.boot
def test_a_spawn_request_lost_in_a_failed_region_is_not_run(launch):
    # node 1 looks at spawn requests 2 s late: time to fail the region of
    # the request page node 0 wrote (node 0's kernel owns it)
    c = launch(nodes=2, mem="64M", pool="64M", node_args={"all": "region=8",
                                                         1: "spawn_delay=2000"})
    m0, m1 = c.mark(0), c.mark(1)
    c.send(0, "runon 1 hello")
    # node 0's kernel owns the request page as soon as it has written it
    pages = until(lambda: regions_of(c.inspect(), 0), 10)
    assert sum(pages.values()) == 1, pages          # the request, nothing else
    assert c.dmos("fail-region", next(iter(pages))).returncode == 0
    c.wait_line(1, r"node 1: spawn request from node 0 was lost in a failed region; not run",
                timeout=15, since=m1)
    c.wait_line(0, r"node 0: run: hello: cannot start \(-5\)$", timeout=15, since=m0)
    assert "hello from node 1" not in c.log(1)[m1:]
    assert "started hello" not in c.log(1)[m1:]


@pytest.mark.boot
def test_without_a_handler_the_program_goes_on(launch):
    c = launch(nodes=1, mem="64M", pool="64M", node_args={"all": "region=8"})
    pid = spawn_lossy(c, 0, "--no-handler 2", "optional pool")
    mine = regions_of(c.inspect(), pid)
    mark = c.mark(0)
    for r in mine:
        assert c.dmos("fail-region", r).returncode == 0
    c.wait_line(0, r"node 0: pid %d \(lossy\) lost 2048 KiB of optional memory in region \d+: "
                r"no handler, it goes on$" % pid, timeout=10, since=mark)
    found = c.wait_line(0, r"lossy: pid %d: found 512 lost pages \(no handler\), rebuilt, "
                        r"running" % pid, timeout=10, since=mark)
    alive_after(c, 0, pid, found.end())
    assert "exception" not in c.log(0)[mark:]
