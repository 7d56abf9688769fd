"""Programs on the cluster: the in-guest test suite on every node, data
handed between nodes through a shared segment, memory larger than a node,
a syscall fuzzer, and programs started on other nodes.

Programs run from a node's kernel monitor (`run`, `runon`); every run ends
with one monitor line giving the exit status.
"""

import re

import pytest

RUN_DONE = r"node %d: run: %s \(pid \d+\) (exited with status (\d+)|killed by signal (\d+))"


def run(c, n, line, timeout=120):
    """Run a program on node n's monitor; return (exit status or None, output)."""
    prog = line.split()[0] if not line.startswith("runon") else line.split()[2]
    cmd = line if line.startswith("runon") else "run " + line
    mark = c.mark(n)
    c.send(n, cmd + "\n")
    m = c.wait_line(n, RUN_DONE % (n, re.escape(prog)), timeout=timeout, since=mark)
    out = c.log(n)[mark:m.start()]
    return (int(m.group(2)) if m.group(2) is not None else None), out


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
def test_linked_list_in_a_shared_segment_crosses_nodes(launch):
    c = launch(nodes=3, pool="256M")
    mark0 = c.mark(0)
    c.send(0, "run seglist produce chain 5000\n")
    status, out = run(c, 2, "seglist consume chain 5000")
    assert status == 0, out
    assert re.search(r"seglist: consumed 5000 items, sum \d+, 0 bad", out), out
    m = c.wait_line(0, RUN_DONE % (0, "seglist"), timeout=60, since=mark0)
    assert m.group(2) == "0", m.group(0)


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
    marks = {n: c.mark(n) for n in range(3)}
    for n in range(3):
        c.send(n, "run sysfuzz 8 %d\n" % (n + 1))
    for n in range(3):
        m = c.wait_line(n, RUN_DONE % (n, "sysfuzz"), timeout=120, since=marks[n])
        assert m.group(2) == "0", m.group(0)
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
