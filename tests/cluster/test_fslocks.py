"""Record locks (fcntl) on dmosfs that hold between processes of different
nodes: the lock table lives in the pool (fs/locktab.h, fs/clusterlk.c).

Three nodes take the same whole-file write lock at once, round after round,
and each writes "TAG in", holds it, writes "TAG out": the file must show
the pairs one after the other, never interleaved. F_GETLK on one node names
the process of another node that holds the lock (`fsop getlk`). A node
killed while it holds a lock loses it once the survivors declare it dead,
and a waiter on another node gets it then, not before. The in-guest lock
tests (dmtest) run on dmosfs with their children on another node.
"""

import re
import subprocess

import pytest

from dmoslib import params

from dmoslib.drive import RUN_DONE
GETLK = r"fsop: getlk %s: write lock of 0\.\.EOF held by pid (\d+) on node (\d+)"


@pytest.fixture
def disk(tmp_path):
    img = tmp_path / "disk.img"
    subprocess.run([params.DMOSFS, "mkfs", str(img), "--size", "64M", "--label", "shared"],
                   check=True, capture_output=True)
    return img


def boot(launch, disk):
    c = launch(nodes=3, pool="256M", extra=["--disk-path", str(disk)])
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at / \(read-write\)" % n)
    return c


def start(c, n, line):
    return c.start_program(n, line)


def wait(c, n, line, mark, timeout=120):
    """(pid, status, output) of the run of line started on node n at mark."""
    return c.program_done(n, line, mark, timeout)


def ok(c, n, line, timeout=120):
    pid, status, out = wait(c, n, line, start(c, n, line), timeout)
    assert status == 0, (n, line, out)
    return pid, out


def lines_of(c, n, path):
    """The lines of a file, as `cat` on node n shows them."""
    mark = start(c, n, "cat " + path)
    _, status, out = wait(c, n, "cat", mark)
    assert status == 0, out
    return re.findall(r"^(\w+ (?:in|out))\r?$", out, re.M)


@pytest.mark.boot
def test_three_nodes_take_turns_with_a_write_lock(launch, disk):
    c = boot(launch, disk)
    rounds = 3
    for _ in range(rounds):
        marks = {n: start(c, n, "fsop lock /shared 300 node%d" % n) for n in range(3)}
        for n in range(3):
            _, status, out = wait(c, n, "fsop", marks[n])
            assert status == 0 and "fsop: lock node%d: held 300 ms" % n in out, (n, out)
    got = lines_of(c, 0, "/shared")
    assert len(got) == 2 * 3 * rounds, got
    for i in range(0, len(got), 2):         # in/out pairs, one holder at a time
        tag = got[i].split()[0]
        assert got[i] == tag + " in" and got[i + 1] == tag + " out", (i, got)
    for n in range(3):
        assert got.count("node%d in" % n) == rounds, got
    c.down()


def holder(c, n, path, timeout=20):
    """Poll `fsop getlk path` on node n until a lock shows; (pid, node)."""
    for _ in range(timeout * 4):
        line = "fsop getlk " + path
        _, status, out = wait(c, n, line, start(c, n, line))
        if status and "No such file or directory" in out:
            continue                    # the holder has not made the file yet
        assert status == 0, out
        m = re.search(GETLK % re.escape(path), out)
        if m:
            return int(m.group(1)), int(m.group(2))
        assert "fsop: getlk %s: no lock" % path in out, out
    pytest.fail("no lock on %s after %d s" % (path, timeout))


@pytest.mark.boot
def test_getlk_names_the_holder_on_another_node(launch, disk):
    c = boot(launch, disk)
    mark = start(c, 1, "fsop lock /held 6000 one")
    pid, node = holder(c, 0, "/held")
    assert node == 1 and pid // 1000000 == 1, (pid, node)
    # node 2 sees the same holder, and cannot have the lock meanwhile
    assert holder(c, 2, "/held") == (pid, 1)
    done_pid, status, out = wait(c, 1, "fsop", mark)
    assert status == 0 and done_pid == pid, (done_pid, pid, out)
    _, out = ok(c, 0, "fsop getlk /held")
    assert "fsop: getlk /held: no lock" in out, out     # gone with its owner's unlock
    c.down()


@pytest.mark.boot
def test_a_dead_holders_lock_goes_to_the_survivors(launch, disk):
    c = boot(launch, disk)
    start(c, 1, "fsop lock /dead 600000 one")         # holds it for ten minutes
    pid, node = holder(c, 0, "/dead")
    assert node == 1, (pid, node)
    mark = start(c, 2, "fsop lock /dead 100 two")     # waits for node 1
    _, out = ok(c, 0, "fsop getlk /dead")
    assert re.search(GETLK % "/dead", out).group(1) == str(pid), out   # still node 1's
    assert not re.search(RUN_DONE % (2, "fsop"), c.log(2)[mark:]), "node 2 did not wait"
    m0 = c.mark(0)
    c.kill(1)
    c.wait_line(0, r"node 1 (declared dead|is dead)", timeout=30, since=m0)
    _, status, out = wait(c, 2, "fsop", mark, timeout=60)
    assert status == 0 and "fsop: lock two: held 100 ms" in out, out
    assert re.search(r"node [02]: fs: dropped 1 record locks and waits of dead node 1",
                     c.log(0)[m0:] + c.log(2)), "no survivor dropped node 1's lock"
    assert lines_of(c, 0, "/dead") == ["one in", "two in", "two out"]
    _, out = ok(c, 0, "fsop getlk /dead")
    assert "fsop: getlk /dead: no lock" in out, out
    c.down()


@pytest.mark.boot
def test_in_guest_lock_tests_pass_on_dmosfs_across_nodes(launch, disk):
    c = boot(launch, disk)
    mark = start(c, 0, "dmtest file_locks file_lock_wait file_lock_deadlock")
    _, status, out = wait(c, 0, "dmtest", mark, timeout=240)
    assert status == 0 and "dmtest: 3 passed, 0 failed" in out, out[-3000:]
    c.down()
