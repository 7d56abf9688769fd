"""Programs from /bin of the shared disk, on booted clusters. A disk the
user prepared (build/tools/dmosfs mkfs, `dmos install`, then programs of
its own) gives every node what its /bin holds: a program only the disk
has runs on both nodes, the first node's disk reads and the second one's
cache hits show it came from the disk; /bin comes before the initrd (a
/bin/hello that is really echo answers as echo), while /initrd/hello still
runs by path; a garbage file in /bin is refused with ENOEXEC, also at the
shell in words, and one without an x bit with EACCES, and the node goes
on. Booted with init=init, a node without a disk starts init and the
shell from the initrd, and one with a disk `up` created runs them from
its /bin.
"""

import re
import subprocess

import pytest

from dmoslib import params

START_FAILED = r"node %d: run: %s: cannot start \((-?\d+)\)"
DISK_READS = r"  disk: (\d+) reads"
HITS = r"  cache: (\d+) hits"
ENOEXEC, EACCES = 8, 13


def tool(*args):
    r = subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, (args, r.stdout + r.stderr)
    return r.stdout


def run(c, n, line, timeout=120):
    """`run LINE` on node n's monitor: (exit status, its output)."""
    return c.run_program(n, line, timeout)


def refused(c, n, prog):
    """`run PROG` that cannot start: the errno it failed with."""
    mark = c.mark(n)
    c.send(n, "run " + prog)
    return -int(c.wait_line(n, START_FAILED % (n, re.escape(prog)), since=mark).group(1))


def counters(c, n):
    """(disk reads, cache hits) of node n since boot, as the monitor's `fs` says."""
    mark = c.mark(n)
    c.send(n, "fs")
    c.wait_line(n, r"node %d: fs: dmosfs" % n, since=mark)
    out = c.log(n)[mark:]
    return int(re.search(DISK_READS, out).group(1)), int(re.search(HITS, out).group(1))


@pytest.fixture
def disk(tmp_path, dmos):
    """The build's programs in /bin, and: /bin/diskonly (hello, on the disk
    only), /bin/hello (really echo), /bin/garbage (text, mode 0755) and
    /bin/noexec (hello, mode 0644)."""
    img = str(tmp_path / "disk.img")
    tool("mkfs", img, "--size", "64M", "--label", "bins")
    r = dmos("install", "--disk-path", img)
    assert r.returncode == 0, r.stdout + r.stderr
    progs = params.PROGRAMS_DIR
    tool("put", img, "%s/hello" % progs, "/bin/diskonly")
    tool("rm", img, "/bin/hello")
    tool("put", img, "%s/echo" % progs, "/bin/hello")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is a text file, no program at all\n" * 100)
    garbage.chmod(0o755)
    tool("put", img, garbage, "/bin/garbage")
    noexec = tmp_path / "noexec"
    noexec.write_bytes(open("%s/hello" % progs, "rb").read())
    noexec.chmod(0o644)
    tool("put", img, noexec, "/bin/noexec")
    return img


@pytest.mark.boot
def test_programs_run_from_bin_on_the_disk(launch, disk):
    c = launch(nodes=2, pool="256M", extra=["--disk-path", disk])
    reads0, _ = counters(c, 0)
    status, out = run(c, 0, "diskonly")
    assert status == 0 and "hello: ok" in out, out
    reads1, _ = counters(c, 0)
    assert reads1 - reads0 >= 10, "diskonly (70 KiB) should have come from the disk: " \
        "%d disk reads" % (reads1 - reads0)
    _, hits0 = counters(c, 1)
    status, out = run(c, 1, "diskonly")             # node 1: from the pool's cache
    assert status == 0 and "hello: ok" in out, out
    _, hits1 = counters(c, 1)
    assert hits1 - hits0 >= 10, "node 1 should have read diskonly through the cache"

    status, out = run(c, 0, "hello from-bin")      # /bin/hello is echo: /bin comes first
    assert status == 0 and re.search(r"^from-bin\r?$", out, re.M), out
    assert "hello: ok" not in out
    status, out = run(c, 0, "/initrd/hello")       # the initrd's, by path
    assert status == 0 and "hello: ok" in out, out


@pytest.mark.boot
def test_a_garbage_program_is_refused_and_the_node_goes_on(launch, disk):
    c = launch(nodes=1, extra=["--disk-path", disk])
    assert refused(c, 0, "garbage") == ENOEXEC
    assert refused(c, 0, "/bin/garbage") == ENOEXEC
    assert refused(c, 0, "noexec") == EACCES
    assert refused(c, 0, "/bin") == EACCES
    status, out = run(c, 0, "sh -c garbage")
    assert status == 127, out
    assert "sh: garbage: not a program dmos can run (no x86_64 ELF executable)" in out, out
    status, out = run(c, 0, "sh -c noexec")
    assert status == 127 and "sh: noexec: permission denied" in out, out
    status, out = run(c, 0, "diskonly")            # still up, still loading programs
    assert status == 0 and "hello: ok" in out, out
    log = c.log(0)
    assert "CPU exception" not in log and "panic" not in log


@pytest.mark.boot
@pytest.mark.parametrize("extra, bin_listing", [
    (["--no-disk"], r"ls: /bin: No such file or directory"),
    ([], r"^sh\r?$"),
], ids=["no-disk", "created-disk"])
def test_init_and_the_shell_start_with_or_without_a_disk(launch, extra, bin_listing):
    c = launch(nodes=1, node_args={"all": "init=init"}, extra=extra)
    c.wait_line(0, r"init: type help for the shell's commands", timeout=60)
    c.wait_line(0, r"sh\$ ", timeout=30)
    mark = c.mark(0)
    c.send(0, "hello")
    c.wait_line(0, r"hello: ok", since=mark)
    mark = c.mark(0)
    c.send(0, "ls /bin")
    c.wait_line(0, bin_listing, since=mark)
