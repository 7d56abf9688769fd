"""Writing dmosfs from several nodes at once: POSIX semantics across the
cluster, and what the pool gives a file system when nodes die.

The workloads are fsop's (userland/bin/fsop.c), run on several nodes at
the same time against the same files; every test ends with the cluster
down and `dmosfs fsck` finding the image clean, and reads what the nodes
wrote from the host (`dmosfs get`), so the bytes are on the disk, not only
in the pool.
"""

import re
import subprocess

import pytest

from dmoslib import params

REC = 16
# fsop's pattern (userland/bin/fsop.c pat()), for the host to check the bytes
PATTERN = r"""
import sys
size, seed = int(sys.argv[1]), int(sys.argv[2])
M = (1 << 64) - 1
out = bytearray(size)
for w in range((size + 7) // 8):
    x = (((w + 1) * 0x9E3779B97F4A7C15) & M) ^ ((seed * 0xBF58476D1CE4E5B9) & M)
    x ^= x >> 29
    out[8 * w:8 * w + 8] = x.to_bytes(8, "little")[:max(0, min(8, size - 8 * w))]
sys.stdout.buffer.write(bytes(out[:size]))
"""


def tool(*args, check=True):
    r = subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True)
    assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def disk(tmp_path):
    """A fresh 128 MiB image made by the host tool, kept past down."""
    img = tmp_path / "disk.img"
    tool("mkfs", img, "--size", "128M", "--label", "shared")
    return img


def start(c, n, line):
    """Start `line` on node n's monitor; returns the log mark to wait from."""
    return c.start_program(n, line)


def wait(c, n, line, mark, timeout=300):
    _, status, out = c.program_done(n, line, mark, timeout)
    return status, out


def run(c, n, line, timeout=300):
    return wait(c, n, line, start(c, n, line), timeout)


def ok(c, n, line, timeout=300):
    status, out = run(c, n, line, timeout)
    assert status == 0, (n, line, out)
    return out


def together(c, lines, timeout=300):
    """Run lines[n] on node n, all at once; their outputs once all are done."""
    marks = {n: start(c, n, line) for n, line in lines.items()}
    outs = {}
    for n, line in lines.items():
        status, out = wait(c, n, line, marks[n], timeout)
        assert status == 0, (n, line, out)
        outs[n] = out
    return outs


def fsck_clean(img):
    r = tool("fsck", img, check=False)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0 and "clean" in out, out
    return out


def host_get(img, path, tmp_path):
    dst = tmp_path / ("got" + path.replace("/", "_"))
    tool("get", img, path, dst)
    return dst.read_bytes()


@pytest.mark.boot
@pytest.mark.parametrize("cache", ["shared", "private"])
def test_nodes_write_append_and_rename_the_same_files(launch, disk, tmp_path, cache):
    """With the shared cache, and with the private per-node baseline (kept
    coherent by invalidation on lock hand-over and write-through)."""
    c = launch(nodes=3, pool="256M", mem="128M", extra=["--disk-path", str(disk)],
               node_args={"all": "fscache=private"} if cache == "private" else None)
    where = "privately in local memory" if cache == "private" else "in the pool"
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at / \(read-write\), its pages cached %s"
                    % (n, where))

    # a file written on node 0 is read back on node 2 (and 1), byte for byte
    ok(c, 0, "fsop pattern /data 300000 7")
    for n in (2, 1):
        assert "fsop: verify /data: 300000 bytes, matches" in ok(c, n, "fsop verify /data 300000 7")
    # node 1 overwrites the middle: node 2 sees the new bytes at once
    ok(c, 1, "fsop pattern /data 100000 8")
    status, out = run(c, 2, "fsop verify /data 300000 8")
    assert status == 1 and "first difference at byte 100000" in out, out

    # O_APPEND from three nodes at once: no record lost or overwritten
    n_rec = 1500
    together(c, {n: "fsop append /log node%d %d" % (n, n_rec) for n in range(3)})

    # a rename storm across two directories leaves every file exactly once
    ok(c, 0, "mkdir /a")
    ok(c, 0, "mkdir /b")
    ok(c, 0, "fsop make /a 60")
    outs = together(c, {n: "fsop storm /a /b 4" for n in range(3)})
    moved = sum(int(re.search(r"(\d+) renames", o).group(1)) for o in outs.values())
    assert moved >= 60, outs
    for n in range(3):
        assert re.search(r"fsop: count: \d+ in /a, \d+ in /b, 60 of 60 exactly once, 0 others",
                         ok(c, n, "fsop count /a /b 60")), n

    # unlink of a file open on another node: it lives until the last close
    ok(c, 0, "fsop pattern /held 200000 5")
    mark = start(c, 1, "fsop orphan /held 200000 5")
    c.wait_line(1, r"fsop: orphan /held: open, waiting", since=mark)
    ok(c, 2, "rm /held")
    status, out = wait(c, 1, "fsop orphan", mark)
    assert status == 0 and "200000 bytes read through the open descriptor, matches" in out, out
    status, out = run(c, 0, "fsop verify /held 200000 5")
    assert status != 0 and "No such file" in out, out
    ok(c, 2, "rm /data")
    c.down()

    fsck_clean(disk)
    log = host_get(disk, "/log", tmp_path)
    assert len(log) == 3 * n_rec * REC
    recs = [log[i:i + REC] for i in range(0, len(log), REC)]
    for n in range(3):
        mine = [int(r.split()[1]) for r in recs if r.startswith(b"node%d " % n)]
        assert mine == list(range(n_rec)), "node %d's records out of order or missing" % n
    listing = tool("ls", disk, "/").stdout.decode().split()
    assert "data" not in listing and "held" not in listing and "log" in listing, listing
    # the orphan was freed at its last close: fsck (clean above) found no orphan


@pytest.mark.boot
def test_a_node_killed_with_dirty_pages_loses_nothing(launch, disk, tmp_path):
    """The nodes boot without background writeback (fswriteback=0), so the
    dirty pages node 1 leaves in the pool when it is killed stay there
    until a survivor writes them back: node 2's fsync of the file."""
    size = 4 << 20
    c = launch(nodes=3, pool="256M", extra=["--disk-path", str(disk)],
               node_args={"all": "fswriteback=0"})
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at /" % n)
    ok(c, 1, "fsop pattern /f %d 1" % size)             # new blocks: on the disk at once
    mark = start(c, 1, "fsop pattern /f %d 2 hold" % size)  # overwrite: dirty in the pool
    c.wait_line(1, r"fsop: pattern /f: %d bytes, seed 2" % size, since=mark)
    c.kill(1)
    c.wait_line(0, r"node 1 (declared dead|is dead)", timeout=30)

    def dirty():
        mark = c.mark(0)
        c.command(0, "fs", r"node 0: fs: dmosfs at /", timeout=30)
        m = re.search(r"pool: \d+ sets of 8 slots, \d+ valid pages, (\d+) dirty", c.log(0)[mark:])
        assert m, c.log(0)[mark:]
        return int(m.group(1))
    left = dirty()
    assert left == size // 4096, "node 1 died with %d dirty pages, not %d" % (left, size // 4096)
    ok(c, 2, "sync /f")                                 # a survivor writes them back
    assert dirty() == 0
    assert "fsop: verify /f: %d bytes, matches" % size in ok(c, 2, "fsop verify /f %d 2" % size)
    c.down()
    fsck_clean(disk)
    data = host_get(disk, "/f", tmp_path)
    assert len(data) == size
    check = subprocess.run(["python3", "-c", PATTERN, str(size), "2"], capture_output=True)
    assert check.returncode == 0 and check.stdout == data, "the bytes on the disk are not seed 2's"


@pytest.mark.boot
def test_a_node_killed_in_the_middle_of_metadata_updates(launch, disk, tmp_path):
    c = launch(nodes=3, pool="256M", extra=["--disk-path", str(disk)])
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at /" % n)
    for d in ("/m1", "/m2", "/a", "/b"):
        ok(c, 0, "mkdir " + d)
    ok(c, 0, "fsop make /a 40")
    start(c, 1, "fsop meta /m1 100000")                 # creates, stats, unlinks without end
    start(c, 2, "fsop storm /a /b 100000")
    ok(c, 0, "fsop meta /m2 50")                        # the cluster is busy meanwhile
    c.kill(1)
    c.wait_line(0, r"node 1 (declared dead|is dead)", timeout=30)
    # the survivors go on: node 0 works in the directory node 1 was changing
    out = ok(c, 0, "fsop storm /m1 /m2 2")
    assert "fsop: storm: 2 rounds" in out, out
    assert "fsop: meta: 30 files" in ok(c, 0, "fsop meta /m2 30")
    c.kill(2)
    c.wait_line(0, r"node 2 (declared dead|is dead)", timeout=30)
    assert "40 of 40 exactly once, 0 others" in ok(c, 0, "fsop count /a /b 40"), "storm lost files"
    c.down()
    out = fsck_clean(disk)
    print(out)


@pytest.mark.boot
def test_a_node_that_stops_after_a_commit_point_is_replayed(launch, disk, tmp_path):
    """fscrash=N stops node 1 dead right after the commit point of its Nth
    transaction, before the blocks reach their homes, holding its locks:
    the first survivor that needs one of them replays node 1's journal
    (and says so) before it goes on; the file system is whole."""
    c = launch(nodes=3, pool="256M", extra=["--disk-path", str(disk)],
               node_args={1: "fscrash=40"})
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at /" % n)
    ok(c, 0, "mkdir /c")
    start(c, 1, "fsop make /c 100")
    c.wait_line(1, r"node 1: fs: fscrash=40: stopping dead after the commit point", timeout=60)
    c.wait_line(0, r"node 1 (declared dead|is dead)", timeout=30)
    out = ok(c, 0, "ls /c")                             # the directory node 1 was changing
    c.wait_line(0, r"node 0: fs: journal 1: ", timeout=10)
    names = [w for w in out.split() if re.fullmatch(r"f\d+", w)]
    assert names, out
    ok(c, 2, "mkdir /c2")                               # and the cluster goes on writing
    ok(c, 2, "fsop make /c2 5")
    c.down()
    fsck_clean(disk)
    listing = tool("ls", disk, "/c").stdout.decode().split()
    assert sorted(listing) == sorted(names), (listing, names)


@pytest.mark.boot
def test_a_node_without_a_journal_mounts_read_only(launch, tmp_path):
    """An image with journals for two nodes in a three-node cluster: node 2
    has no journal to write through, so it mounts read only and says why;
    it reads what the others write, and its own writes are EROFS."""
    img = tmp_path / "two.img"
    tool("mkfs", img, "--size", "32M", "--journals", "2", "--label", "two")
    c = launch(nodes=3, extra=["--disk-path", str(img)])
    c.wait_line(2, r"node 2: fs: the disk has journals for nodes 0\.\.1 only: mounted read only")
    c.wait_line(2, r"node 2: fs: dmosfs 'two' at / \(read only\)")
    ok(c, 0, "fsop pattern /p 50000 3")
    assert "matches" in ok(c, 2, "fsop verify /p 50000 3")
    status, out = run(c, 2, "fsop pattern /q 10 1")
    assert status == 1 and "Read-only file system" in out, out
    c.down()
    fsck_clean(img)


@pytest.mark.boot
def test_a_node_taken_for_dead_while_alive_stops_writing(launch, disk, tmp_path):
    """Node 1's QEMU is stopped (SIGSTOP) long enough for the others to
    declare it dead, break its locks and replay its journal; when it runs
    again it must not write the disk any more: it says so, its calls fail
    with EIO, and the file system stays whole."""
    import os
    import signal
    c = launch(nodes=3, pool="256M", extra=["--disk-path", str(disk)])
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at /" % n)
    ok(c, 0, "mkdir /w")
    mark = start(c, 1, "fsop meta /w 100000")          # metadata without end
    ok(c, 0, "fsop make /w 20")                         # node 1 is busy in /w meanwhile
    pid = c.pids()[1]
    os.kill(pid, signal.SIGSTOP)
    try:
        c.wait_line(0, r"node 1 (declared dead|is dead)", timeout=30)
        ok(c, 0, "ls /w")                               # takes the locks node 1 held
    finally:
        os.kill(pid, signal.SIGCONT)
    c.wait_line(1, r"node 1: fs: .*this node was taken for dead; it no longer writes the "
                r"shared disk", timeout=30, since=mark)
    status, out = wait(c, 1, "fsop meta", mark, timeout=60)
    assert status != 0 and "I/O error" in out, out
    ok(c, 0, "fsop meta /w 30 z")                       # the others go on
    c.kill(1)
    c.down()
    fsck_clean(disk)
