"""Programs on the cluster: the in-guest test suite on every node, data
handed between nodes through a shared segment, memory larger than a node,
a syscall fuzzer, programs started on other nodes (also when the target
answers too late), and kill across nodes.

Programs run from a node's kernel monitor (`run`, `runon`); every run ends
with one monitor line giving the exit status.
"""

import re

import pytest

from dmoslib.logwatch import until

def run(c, n, line, timeout=120):
    """Run a program on node n's monitor (`run LINE`, or a `runon N PROG ...`
    line as it is); return (exit status or None, output)."""
    if not line.startswith("runon"):
        return c.run_program(n, line, timeout)
    mark = c.mark(n)
    c.send(n, line)
    _, status, out = c.program_done(n, line.split(None, 2)[2], mark, timeout)
    return status, out


@pytest.mark.boot
def test_in_guest_suite_passes_on_every_node(launch):
    c = launch(nodes=3, pool="256M")
    for n in range(3):
        status, out = run(c, n, "dmtest", timeout=240)
        m = re.search(r"^dmtest: (\d+) passed, (\d+) failed", out, re.M)
        assert m, "node %d: no summary line:\n%s" % (n, out[-3000:])
        failed = re.findall(r"^not ok \d+ .*", out, re.M)
        assert int(m.group(2)) == 0 and not failed and status == 0, (n, failed)
        assert int(m.group(1)) >= 20, "the suite should cover at least 20 tests"
        assert "CPU exception" not in c.log(n)


@pytest.mark.boot
def test_in_guest_suite_passes_with_the_initrd_at_root(launch):
    """Without a disk the initrd is / (the fallback): the file tests run there too."""
    c = launch(nodes=1, extra=["--no-disk"])
    status, out = run(c, 0, "dmtest", timeout=240)
    m = re.search(r"^dmtest: (\d+) passed, (\d+) failed", out, re.M)
    assert m and int(m.group(2)) == 0 and status == 0, out[-3000:]


@pytest.mark.boot
def test_linked_list_in_a_shared_segment_crosses_nodes(launch):
    c = launch(nodes=3, pool="256M")
    mark0 = c.start_program(0, "seglist produce chain 5000")
    status, out = run(c, 2, "seglist consume chain 5000")
    assert status == 0, out
    assert re.search(r"seglist: consumed 5000 items, sum \d+, 0 bad", out), out
    _, status, out = c.program_done(0, "seglist", mark0, timeout=60)
    assert status == 0, out


@pytest.mark.boot
def test_a_program_can_use_more_memory_than_its_node_has(launch):
    c = launch(nodes=1, mem="64M", pool="512M")
    status, out = run(c, 0, "bigalloc 256 any", timeout=300)
    assert status == 0 and "bigalloc: ok" in out, out
    m = re.search(r"(\d+) pages? local, (\d+) pages? pool", out)
    assert m and int(m.group(2)) > 0, "most of 256 MiB must have come from the pool: " + out
    status, out = run(c, 0, "bigalloc 256 local")
    assert status == 3 and "bigalloc: ENOMEM" in out, out
    status, out = run(c, 0, "hello")                # the node is still healthy
    assert status == 0 and "hello: ok" in out


@pytest.mark.boot
def test_syscall_fuzzer_does_not_fault_any_kernel(launch):
    c = launch(nodes=3)
    marks = {n: c.start_program(n, "sysfuzz 8 %d" % (n + 1)) for n in range(3)}
    for n in range(3):
        _, status, out = c.program_done(n, "sysfuzz", marks[n], timeout=120)
        assert status == 0, out
        assert "kernel still here" in c.log(n)[marks[n]:]
        assert "CPU exception" not in c.log(n)
    status, out = run(c, 0, "hello")
    assert status == 0


@pytest.mark.boot
def test_run_on_another_node_and_get_the_status_back(launch):
    c = launch(nodes=3)
    mark2 = c.mark(2)
    status, out = run(c, 0, "runon 2 hello")
    assert status == 0
    c.wait_line(2, r"hello from node 2 of 3", since=mark2)
    c.wait_line(2, r"node 2: started hello \(pid 2\d+\) for pid \d+ on node 0", since=mark2)
    status, _ = run(c, 1, "runon 0 kill 999")      # a program that fails: its status comes back
    assert status not in (0, None)


START_FAILED = r"node %d: run: %s: cannot start \((-?\d+)\)"
ETIMEDOUT, ECANCELED = 110, 125


def ps(c, n):
    """pids of every process of the cluster, as node n's `ps` program lists them."""
    status, out = run(c, n, "ps")
    assert status == 0, out
    return {int(m.group(1)): (int(m.group(2)), m.group(3))
            for m in re.finditer(r"^\s*(\d+)\s+\d+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(\S+)\s*$",
                                 out, re.M)}


def wait_gone(c, n, pid, timeout=10):
    """Wait until node n's `ps` no longer lists pid (no console line says a
    killed process is gone); returns the last listing."""
    until(lambda: pid not in ps(c, n), timeout, 0.3)
    return ps(c, n)


def pool_pages_of(c, node):
    return c.inspect()["allocator"]["used_by_node"].get(str(node), 0)


@pytest.mark.boot
def test_a_spawn_that_times_out_never_runs_late_and_frees_its_page(launch):
    # node 1 looks at spawn requests 3 s late, node 2 starts them 3 s after
    # taking them; node 0 gives up after 1 s
    # no disk: programs from the initrd, so node 0's pool pages are only request pages
    c = launch(nodes=3, pool="256M", node_args={0: "spawn_timeout=1000", 1: "spawn_delay=3000",
                                                  2: "spawn_hold=3000"}, extra=["--no-disk"])
    # late delivery: the request is cancelled before node 1 takes it; never runs
    m0, m1 = c.mark(0), c.mark(1)
    c.send(0, "runon 1 hello")
    m = c.wait_line(0, START_FAILED % (0, "hello"), since=m0)
    assert int(m.group(1)) == -ETIMEDOUT, m.group(0)
    c.wait_line(1, r"node 1: spawn request from node 0 came after it was cancelled; not run",
                timeout=15, since=m1)
    c.wait_line(0, r"node 0: node 1 answered a spawn request after it timed out \(-%d\); "
                r"its page is freed" % ECANCELED, timeout=15, since=m0)
    assert "hello from node 1" not in c.log(1)[m1:]
    assert "started hello" not in c.log(1)[m1:]

    # taken, then late: the child it starts is killed, so no process of the
    # requester's is left running anywhere
    m0, m2 = c.mark(0), c.mark(2)
    c.send(0, "runon 2 dmtest --child sleep 60000")
    m = c.wait_line(0, START_FAILED % (0, "dmtest"), since=m0)
    assert int(m.group(1)) == -ETIMEDOUT, m.group(0)
    m = c.wait_line(2, r"node 2: started dmtest \(pid (2\d+)\)", timeout=15, since=m2)
    pid = int(m.group(1))
    c.wait_line(0, r"node 0: pid %d on node 2 started after its spawn timed out; killed it" % pid,
                timeout=15, since=m0)
    procs = wait_gone(c, 0, pid)
    assert pid not in procs, procs
    assert pool_pages_of(c, 0) == 0, "node 0 still holds pool pages (a request page leaked)"

    # the nodes still serve spawns that are in time
    status, _ = run(c, 1, "runon 0 hello")
    assert status == 0
    for n in range(3):
        assert "CPU exception" not in c.log(n)


@pytest.mark.boot
def test_kill_reaches_every_node(launch):
    c = launch(nodes=3, pool="256M")
    # a shell on node 0 runs a child on node 1 and waits for it
    m0, m1 = c.mark(0), c.mark(1)
    c.send(0, "spawn sh -c on 1 dmtest --child sleep 60000")
    shpid = int(c.wait_line(0, r"node 0: spawn: sh is pid (\d+)", since=m0).group(1))
    kid = int(c.wait_line(1, r"node 1: started dmtest \(pid (\d+)\)", timeout=20,
                          since=m1).group(1))

    # killed from node 0: gone from ps, and its parent on node 0 sees signal 9
    status, out = run(c, 0, "kill %d" % kid)
    assert status == 0 and "kill: %d: killed (signal 9)" % kid in out, out
    c.wait_line(0, r"sh: dmtest \(pid %d\) killed by signal 9 \(killed\)" % kid, since=m0)
    procs = wait_gone(c, 0, kid)
    assert kid not in procs, procs
    assert shpid not in wait_gone(c, 0, shpid)

    # pids nobody has: one line saying so and exit status 1
    status, out = run(c, 0, "kill %d" % kid)
    assert status == 1 and "kill: %d: no such process" % kid in out, out
    status, out = run(c, 2, "kill 1000999")
    assert status == 1 and "kill: 1000999: no such process" in out, out
    status, out = run(c, 0, "kill 9000001")                # no node 9
    assert status == 1 and "no such process" in out, out
    status, out = run(c, 0, "kill -99 %d" % shpid)
    assert status == 2 and "not a signal number" in out, out

    # a pid on a dead node: EHOSTDOWN, said plainly; its parent sees it killed
    m0, m2 = c.mark(0), c.mark(2)
    c.send(0, "spawn sh -c on 2 dmtest --child sleep 60000")
    kid2 = int(c.wait_line(2, r"node 2: started dmtest \(pid (\d+)\)", timeout=20,
                           since=m2).group(1))
    c.kill(2)
    c.wait_line(0, r"node 0: node 2 (declared dead|is dead)", timeout=20, since=m0)
    status, out = run(c, 0, "kill %d" % kid2)
    assert status == 1 and "kill: %d: its node 2 is down" % kid2 in out, out
    c.wait_line(0, r"sh: dmtest \(pid %d\) killed by signal 9" % kid2, timeout=20, since=m0)
    for n in range(2):
        assert "CPU exception" not in c.log(n)
