"""A node loses the pool: the link-down fault of docs/design.md (section 12).

The injector (`dmos fail-link N`) plays the CXL fabric: it sets link_down in
node N's node-table entry and raises an NMI in that node. Node N must keep
running on its local memory: its programs that held optional pool memory
take the exception and rebuild it locally, those with vital pool memory are
killed with the reason, those on local memory notice nothing. It stops
touching the pool, so the others declare it dead after dead_after and take
back everything it held; every other node goes on untouched.
"""

import pytest

from test_region_fail import alive_after, spawn_lossy


@pytest.mark.boot
def test_a_node_that_loses_the_pool_keeps_running_on_local_memory(launch):
    # no disk: programs from the initrd, so no page cache in the pool beside the processes
    c = launch(nodes=3, mem="64M", pool="64M", extra=["--no-disk"])
    opt = spawn_lossy(c, 1, "4", "optional pool")
    vital = spawn_lossy(c, 1, "--vital 4", "vital pool", run=False)
    local = spawn_lossy(c, 1, "--local 4", "local")
    other = spawn_lossy(c, 0, "4", "optional pool")
    mark = c.mark(1)
    c.send(1, "hold 100")
    c.wait_line(1, r"node 1: hold: 100 pool pages taken", timeout=10, since=mark)
    held = c.inspect()["allocator"]["used_by_node"]["1"]
    assert held == 2 * 1024 + 100

    marks = [c.mark(n) for n in range(3)]
    r = c.dmos("fail-link", 1)
    assert r.returncode == 0, r.stderr
    assert "node 1 lost the pool" in r.stdout

    # node 1: the loss, the kill with its reason, the exception, the rebuild
    c.wait_line(1, r"node 1: lost the pool \(link down\): 2048 pool pages of its processes "
                r"lost \(1024 optional, 1024 vital\)$", timeout=10, since=marks[1])
    c.wait_line(1, r"node 1: pid %d \(lossy\) killed: vital memory lost with the pool link "
                r"at 0x[0-9a-f]+$" % vital, timeout=10, since=marks[1])
    c.wait_line(1, r"node 1: monitor: 100 held pool pages lost with the pool link$",
                timeout=10, since=marks[1])
    c.wait_line(1, r"node 1: pid %d \(lossy\) lost 4096 KiB of optional memory with the pool "
                r"link: exception raised$" % opt, timeout=10, since=marks[1])
    c.wait_line(1, r"lossy: pid %d: exception: lost 4194304 bytes at 0x[0-9a-f]+ "
                r"\(pool link\)" % opt, timeout=10, since=marks[1])
    rebuilt = c.wait_line(1, r"lossy: pid %d: rebuilt 1024 pages, running" % opt,
                          timeout=10, since=marks[1])
    alive_after(c, 1, opt, rebuilt.end())
    alive_after(c, 1, local, c.mark(1))

    # the others notice its silence and take back all it held, once
    dead = [c.wait_line(n, r"node %d: node 1 (declared dead \(no heartbeat for \d+ ms\)|is dead "
                        r"\(declared by node \d\)); took back (\d+) pool pages" % n,
                        timeout=10, since=marks[n]) for n in (0, 2)]
    assert sorted(int(m.group(2)) for m in dead) == [0, held]
    alive_after(c, 0, other, c.mark(0))

    # node 1 runs on: its monitor answers, ps shows the survivors on local memory
    mark = c.mark(1)
    c.send(1, "ps")
    c.wait_line(1, r"node 1: ps: 3 processes$", timeout=10, since=mark)
    lines = c.log(1)[mark:]
    assert "lossy" in lines and " 0 pool  lossy" in lines, lines
    mark = c.mark(1)
    c.send(1, "nodes")
    c.wait_line(1, r"node 1: nodes: this node has no pool$", timeout=10, since=mark)
    mark = c.mark(1)
    c.send(1, "run free")
    c.wait_line(1, r"^this node has no pool \(none found, or its link went down\)$", timeout=10,
                since=mark)
    # programs still start there and work on local memory, futexes included
    tests = "spawn_exit_status alloc_local nanosleep futex_eagain futex_timeout futex_wake_nobody"
    mark = c.mark(1)
    c.send(1, "run dmtest %s" % tests)
    m = c.wait_line(1, r"^dmtest: (\d+) passed, (\d+) failed", timeout=60, since=mark)
    assert (int(m.group(1)), int(m.group(2))) == (6, 0), c.log(1)[mark:]
    for n in range(3):
        text = c.log(n)[marks[n]:]
        assert "DATA CORRUPT" not in text and "CPU exception" not in text, text

    # the pool: node 1 is dead with its link down, nothing of it is left
    info = c.inspect()
    n1 = info["nodes"][1]
    assert n1["state"] == "dead" and n1["link_down"] is True
    assert "1" not in info["allocator"]["used_by_node"]
    assert info["allocator"]["leaked"] == 0 and info["allocator"]["inconsistent"] == 0
