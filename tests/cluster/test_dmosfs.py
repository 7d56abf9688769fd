"""dmosfs, the cluster file system, on booted clusters: an image the host
tool made (build/tools/dmosfs: a 16 MiB file and small ones in
directories) is mounted at / on every node, with the initrd at /initrd
(at /disk with root=initrd, the initrd staying /).
Node 0 reads the big file from the disk into the page cache in the pool;
node 2 then reads the same bytes (the host's hash) without a single disk
read of its own, every page a cache hit. Directories list and stat alike
on every node, and the image is still clean for fsck when the cluster is
down.

The numbers come from fsread (userland/bin/fsread.c): the FNV-1a hash of
what it read and the moves of the node's counters (SYS_fsinfo) over the
read; the `fs` monitor command shows the node's counters since boot.
"""

import random
import re
import subprocess

import pytest

from dmoslib import params

MiB = 1 << 20
BIG = 16 * MiB
BLOCK = 4096
POOL = "512M"       # a page cache of 32768 slots (pool.h): the big file fills an eighth
READ = (r"fsread: (\S+): (\d+) bytes, fnv1a64 ([0-9a-f]{16}), (\d+) us; disk reads (\d+) "
        r"\((\d+) bytes\), cache hits (\d+), misses (\d+), fills (\d+), fill waits (\d+), "
        r"evictions (\d+)")
SMALL = {"/etc/motd": b"welcome to the cluster\n",
         "/docs/readme.txt": b"dmosfs: one disk, one page cache in the pool\n" * 3,
         "/docs/deep/note": bytes(range(256)) * 20}


def fnv1a(data):
    """fsread's hash (FNV-1a, 64 bits)."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def tool(*args):
    r = subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, (args, r.stdout + r.stderr)
    return r.stdout


@pytest.fixture
def image(tmp_path):
    """A 64 MiB dmosfs: /big (16 MiB of seeded random bytes: direct, indirect
    and double indirect blocks), /etc/motd, /docs/readme.txt, /docs/deep/note."""
    img = tmp_path / "disk.img"
    tool("mkfs", img, "--size", "64M", "--label", "shared")
    big = random.Random(7).randbytes(BIG)
    (tmp_path / "big").write_bytes(big)
    tool("put", img, tmp_path / "big", "/big")
    for d in ("/etc", "/docs", "/docs/deep"):
        tool("mkdir", img, d)
    for path, data in SMALL.items():
        host = tmp_path / path.replace("/", "_")
        host.write_bytes(data)
        tool("put", img, host, path)
    return img, fnv1a(big)


def run(c, n, line, timeout=300):
    """Run a program on node n's monitor; return (exit status, its output)."""
    return c.run_program(n, line, timeout)


def fsread(c, n, path):
    status, out = run(c, n, "fsread " + path)
    m = re.search(READ, out)
    assert status == 0 and m, out
    keys = ("path", "bytes", "hash", "us", "reads", "read_bytes", "hits", "misses", "fills",
            "waits", "evictions")
    return dict(zip(keys, [m.group(1), int(m.group(2)), int(m.group(3), 16)] +
                    [int(g) for g in m.groups()[3:]]))


def listing(c, n, path):
    """{name: (type, size, nlink)} of a directory, as node n lists and stats it."""
    status, out = run(c, n, "fsread " + path)
    assert status == 0 and re.search(r"fsread: %s: directory of \d+ entries" % re.escape(path),
                                     out), out
    return {m.group(1): (m.group(2), int(m.group(3)), int(m.group(4)))
            for m in re.finditer(r"^  (\S+) (dir|file) (\d+) ino \d+ nlink (\d+)\r?$", out, re.M)}


@pytest.mark.boot
def test_a_file_one_node_read_costs_the_others_no_disk_read(launch, image):
    img, want = image
    c = launch(nodes=3, pool=POOL, extra=["--disk-path", str(img)])
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs 'shared' at / \(read-write\), its pages cached in "
                    r"the pool \(4096 sets of 8\)" % n)

    cold = fsread(c, 0, "/big")
    assert (cold["bytes"], cold["hash"]) == (BIG, want)
    pages = BIG // BLOCK
    # every page once from the disk, plus the map's indirect blocks (1 + 1 + 3)
    assert pages <= cold["reads"] <= pages + 8, cold
    assert cold["read_bytes"] == cold["reads"] * BLOCK and cold["fills"] == cold["reads"], cold
    assert cold["evictions"] == 0, cold

    warm = fsread(c, 2, "/big")
    assert (warm["bytes"], warm["hash"]) == (BIG, want)
    assert (warm["reads"], warm["read_bytes"], warm["fills"], warm["misses"]) == (0, 0, 0, 0), warm
    assert warm["hits"] >= pages, warm
    print("16 MiB file: node 0 cold %d us, %d disk reads; node 2 warm %d us, %d disk reads"
          % (cold["us"], cold["reads"], warm["us"], warm["reads"]))

    # node 1 reads the small files: the same bytes as the host's
    for path, data in SMALL.items():
        r = fsread(c, 1, path)
        assert (r["bytes"], r["hash"]) == (len(data), fnv1a(data)), (path, r)

    # directories: the same listing and stat on every node
    root = {"big": ("file", BIG, 1), "etc": ("dir", BLOCK, 2), "docs": ("dir", BLOCK, 3),
            "tmp": ("dir",), "initrd": ("dir",)}        # the last two: mount points
    for n in range(3):
        got = listing(c, n, "/")
        assert {k: got[k][0] for k in root} == {k: v[0] for k, v in root.items()}, (n, got)
        assert {k: got[k] for k in ("big", "etc", "docs")} == \
            {k: root[k] for k in ("big", "etc", "docs")}, (n, got)
        assert listing(c, n, "/docs") == {".": ("dir", BLOCK, 3), "..": ("dir", BLOCK, 4),
                                          "readme.txt": ("file", len(SMALL["/docs/readme.txt"]), 1),
                                          "deep": ("dir", BLOCK, 2)}, n
        assert "hello" in listing(c, n, "/initrd")      # the programs are still there

    # the monitor's counters since boot hold what the reads moved
    for n, r in ((0, cold), (2, warm)):
        mark = c.mark(n)
        c.command(n, "fs", r"node %d: fs: dmosfs at /" % n)
        m = re.search(r"cache: (\d+) hits, (\d+) misses, (\d+) fills, \d+ fill waits, "
                      r"(\d+) evictions", c.log(n)[mark:])
        assert m and int(m.group(1)) >= r["hits"] and int(m.group(3)) >= r["fills"], m
        assert int(m.group(4)) == 0, m.group(0)
    c.down()
    fsck = subprocess.run([params.DMOSFS, "fsck", str(img)], capture_output=True, text=True)
    assert fsck.returncode == 0 and "clean" in fsck.stdout, fsck.stdout + fsck.stderr


@pytest.mark.boot
def test_with_root_initrd_the_disk_is_at_disk(launch, image):
    img, _ = image
    c = launch(nodes=1, node_args={"all": "root=initrd"}, extra=["--disk-path", str(img)])
    c.wait_line(0, r"node 0: fs: dmosfs 'shared' at /disk \(read-write\)")
    assert listing(c, 0, "/disk/docs")["readme.txt"] == \
        ("file", len(SMALL["/docs/readme.txt"]), 1)
    r = fsread(c, 0, "/disk/etc/motd")
    assert (r["bytes"], r["hash"]) == (len(SMALL["/etc/motd"]), fnv1a(SMALL["/etc/motd"]))
    assert "hello" in listing(c, 0, "/")            # the initrd is still /
