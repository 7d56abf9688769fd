"""The cluster file system at its limits, on booted clusters: a disk that
fills up, a file much bigger than the pool its pages are cached in, and a
pool region that fails under the page cache.

  disk full     `fsop fill` writes until ENOSPC and says how much it got;
                everything written before still reads back, the full file
                reads back as long as fill said, and removing it gives the
                space back (a second fill gets as much again; after down,
                fsck is clean and `dmosfs info` counts the blocks free)
  big file      a file four times the pool is read end to end while a
                program on another node takes half of the pool: both get
                what they need, because the page cache gives pages back
                (mm/pmem.c asks fs/dmosfs.c's reclaimer)
  region lost   a region holding cached pages fails: clean pages are
                dropped (read again from the disk), dirty ones are lost and
                their file's fsync and writes fail with EIO; every kernel
                stays up and each says what its pass over the cache did

The workloads are fsop's and fsread's (userland/bin); each test ends with
the cluster down and the image checked from the host (build/tools/dmosfs).
"""

import random
import re
import subprocess

import pytest

from dmoslib.pool import PoolFile, parse
from dmoslib.poolcache import FRAME_PAGE, DIRTY, PCACHE_HDR_FMT, PCACHE_WAYS, PPN_MASK, TAG_BITS
from dmoslib.drive import RUN_DONE
from dmoslib.poolmem import read_xlate
from test_fswrite import fsck_clean, ok, run, start, tool, wait

MiB = 1 << 20
BLOCK = 4096
READ = (r"fsread: (\S+): (\d+) bytes, fnv1a64 ([0-9a-f]{16}), \d+ us; disk reads (\d+) .*"
        r"evictions (\d+)")
LOST_LINE = (r"node %d: fs: region failure: (\d+) clean page cache pages dropped \(read again "
             r"from the disk\), (?:(\d+) dirty pages lost \(inodes? ([\d, ]+)\): their files "
             r"say EIO|no dirty page lost)$")

# fsread's hash (FNV-1a, 64 bits) of a host file: in C, the files here are too big for Python
FNV_C = r"""
#include <stdint.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n;
	FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;

	if (!f)
		return 2;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	printf("%016llx\n", (unsigned long long)h);
	return ferror(f) ? 1 : 0;
}
"""


@pytest.fixture(scope="module")
def fnv(tmp_path_factory):
    """fnv(path): the hash fsread prints for a file of that content."""
    d = tmp_path_factory.mktemp("fnv")
    (d / "fnv.c").write_text(FNV_C)
    subprocess.run(["cc", "-O2", "-o", str(d / "fnv"), str(d / "fnv.c")], check=True)

    def hash_of(path):
        r = subprocess.run([str(d / "fnv"), str(path)], capture_output=True, text=True,
                           check=True)
        return int(r.stdout, 16)
    return hash_of


def data_free(img):
    """Free data blocks, as `dmosfs info` counts them."""
    out = tool("info", img).stdout.decode()
    m = re.search(r"^data +\d+ blocks from \d+: (\d+) used, (\d+) free$", out, re.M)
    assert m, out
    return int(m.group(2))


def stat_field(img, path, field):
    """A number `dmosfs stat` shows of path: inode, size, blocks."""
    out = tool("stat", img, path).stdout.decode()
    return int(re.search(r"^%s +(\d+)" % field, out, re.M).group(1))


def pattern(size, seed):
    """The bytes `fsop pattern FILE SIZE SEED` writes (pat() in userland/bin/fsop.c)."""
    m, out = (1 << 64) - 1, bytearray()
    for j in range((size + 7) // 8):
        x = ((j + 1) * 0x9E3779B97F4A7C15 & m) ^ (seed * 0xBF58476D1CE4E5B9 & m)
        out += (x ^ x >> 29).to_bytes(8, "little")
    return bytes(out[:size])


def fsread(c, n, path, timeout=300):
    """(bytes, hash, disk reads, evictions) of node n reading path to its end."""
    m = re.search(READ, ok(c, n, "fsread " + path, timeout))
    assert m, path
    return int(m.group(2)), int(m.group(3), 16), int(m.group(4)), int(m.group(5))


def mounted(c, nodes, label):
    for n in range(nodes):
        c.wait_line(n, r"node %d: fs: dmosfs '%s' at / \(read-write\)" % (n, label), timeout=60)


# ---- a disk that fills up -------------------------------------------------------------

SMALL = {"/s0": (100000, 1), "/s1": (300000, 2), "/d/s2": (5000, 3)}


@pytest.mark.boot
def test_a_full_disk_says_enospc_and_rm_gives_the_space_back(launch, tmp_path, fnv):
    img = tmp_path / "disk.img"
    tool("mkfs", img, "--size", "32M", "--label", "small")
    empty = data_free(img)
    c = launch(nodes=2, pool="64M", extra=["--disk-path", str(img)])
    mounted(c, 2, "small")
    ok(c, 0, "mkdir /d")
    for i, (path, (size, seed)) in enumerate(SMALL.items()):
        ok(c, i % 2, "fsop pattern %s %d %d" % (path, size, seed))

    # node 1 fills the disk: ENOSPC, with what it got
    out = ok(c, 1, "fsop fill /big")
    got = int(re.search(r"fsop: fill: (\d+) bytes, then No space left on device", out).group(1))
    assert got > 16 * MiB, out
    # nothing more fits; what was there before is intact, on both nodes
    status, out = run(c, 0, "fsop pattern /more 10000 4")
    assert status == 1 and "fsop: write /more: No space left on device" in out, out
    for n in range(2):
        for path, (size, seed) in SMALL.items():
            assert "fsop: verify %s: %d bytes, matches" % (path, size) in \
                ok(c, n, "fsop verify %s %d %d" % (path, size, seed))
    # the full file holds what fill said it wrote
    (tmp_path / "zs").write_bytes(b"z" * got)
    assert fsread(c, 0, "/big")[:2] == (got, fnv(tmp_path / "zs"))

    # rm gives the space back: a second fill, on the other node, gets as much again
    ok(c, 0, "rm /big /more")
    out = ok(c, 0, "fsop fill /big2")
    again = int(re.search(r"fsop: fill: (\d+) bytes, then No space left", out).group(1))
    assert abs(again - got) <= 4 * BLOCK, (got, again)
    ok(c, 1, "rm /big2")
    for path, (size, seed) in SMALL.items():
        assert "matches" in ok(c, 1, "fsop verify %s %d %d" % (path, size, seed))
    c.down()

    fsck_clean(img)
    free = data_free(img)
    # every block but the small files' is free again, and fill got every one of them but
    # those its map took (indirect blocks)
    assert free == empty - sum(stat_field(img, p, "blocks") for p in ("/d", *SMALL)), free
    assert free - 16 <= got // BLOCK <= free, (free, got)
    listing = tool("ls", img, "/").stdout.decode().split()
    assert "big" not in listing and "big2" not in listing and "s0" in listing, listing
    for path, (size, seed) in SMALL.items():
        back = tmp_path / "back"
        tool("get", img, path, back)
        assert back.read_bytes() == pattern(size, seed), path


# ---- a file four times the pool -------------------------------------------------------

HUGE = 256 * MiB
TAKE = 52 * MiB         # of a 64 MiB pool: more than the page cache leaves free


@pytest.mark.boot
def test_a_file_four_times_the_pool_reads_while_most_of_the_pool_is_taken(launch, tmp_path, fnv):
    img, host = tmp_path / "disk.img", tmp_path / "huge"
    tool("mkfs", img, "--size", "320M", "--label", "huge")
    rng = random.Random(11)
    with open(host, "wb") as f:
        for _ in range(HUGE // (16 * MiB)):
            f.write(rng.randbytes(16 * MiB))
    tool("put", img, host, "/huge")
    want = fnv(host)
    c = launch(nodes=2, pool="64M", extra=["--disk-path", str(img)])
    mounted(c, 2, "huge")

    mark = start(c, 0, "fsread /huge")
    # the cache fills up (its slots are a quarter of the pool's pages: pool.h) before
    # the other program asks for more than the rest of the pool
    for _ in range(300):
        rep = c.inspect()
        if rep["page_cache"]["pages"] >= rep["page_cache"]["slots"] * 3 // 4:
            break
    else:
        pytest.fail("the page cache never filled: %s" % rep["page_cache"])
    short = TAKE // BLOCK - rep["allocator"]["free"]
    assert short > 0, "the pool has room for bigalloc without the cache: %s" % rep["allocator"]
    out = ok(c, 1, "bigalloc %d pool" % (TAKE // MiB), timeout=300)
    assert "bigalloc: ok" in out, out
    assert not re.search(RUN_DONE % (0, "fsread"), c.log(0)[mark:]), "they did not overlap"

    status, out = wait(c, 0, "fsread /huge", mark, timeout=600)
    m = re.search(READ, out)
    assert status == 0 and m, out
    assert (int(m.group(2)), int(m.group(3), 16)) == (HUGE, want)
    # node 1 read no file: what it evicted it evicted for bigalloc, at least about what it
    # lacked; with node 0's, every page read but what the cache holds at the end was evicted
    nodes = {e["node"]: e for e in c.inspect()["page_cache"]["nodes"]}
    assert nodes[1]["evictions"] >= short // 2, (short, nodes[1])
    assert int(m.group(5)) + nodes[1]["evictions"] >= HUGE // BLOCK - rep["page_cache"]["slots"]
    c.down()
    fsck_clean(img)


# ---- a region failure under the page cache --------------------------------------------

def cache_pages(pool_path):
    """[(inode, ppn, region, dirty)] of every cached page with a frame, read from the pool."""
    out = []
    with PoolFile(pool_path) as f:
        p = parse(f)
        _, _, xl = read_xlate(f, p)
        hdr = PCACHE_HDR_FMT.unpack(f.read(p.pcache_off, PCACHE_HDR_FMT.size))
        nslots = hdr[2] * PCACHE_WAYS
        slots = f.read(p.pcache_off + hdr[3], nslots * 8)
        frames = f.read(p.pcache_off + hdr[4], nslots * 8)
    for i in range(nslots):
        w = int.from_bytes(slots[8 * i:8 * i + 8], "little")
        fr = int.from_bytes(frames[8 * i:8 * i + 8], "little")
        if w >> 62 not in (2, 3) or not fr & FRAME_PAGE:
            continue
        ppn = fr & PPN_MASK
        out.append(((w & ((1 << TAG_BITS) - 1)) >> 32, ppn, xl.region_of_page(ppn),
                    bool(w & DIRTY)))
    return out


def busiest(pages, pick):
    """The region holding the most of the pages pick() chooses."""
    count = {}
    for p in pages:
        if pick(p):
            count[p[2]] = count.get(p[2], 0) + 1
    assert count, "no such page in the cache"
    return max(count, key=count.get)


# 512 dirty pages, about one in each of the cache's 512 sets, beside the clean file's
# pages in a 64M pool's 16 MiB cache (pcache_lost keeps one LOST mark per inode, so a
# bigger loss would not fill sets; tests/unit/test_pcache.c checks that)
DIRTY_SIZE = 2 * MiB


@pytest.mark.boot
def test_a_region_failure_under_the_page_cache(launch, tmp_path, fnv):
    img = tmp_path / "disk.img"
    tool("mkfs", img, "--size", "64M", "--label", "lossy")
    clean = random.Random(3).randbytes(4 * MiB)
    (tmp_path / "clean").write_bytes(clean)
    (tmp_path / "dirty").write_bytes(random.Random(4).randbytes(DIRTY_SIZE))
    tool("put", img, tmp_path / "clean", "/clean")
    tool("put", img, tmp_path / "dirty", "/dirty")
    ino_clean, ino_dirty = stat_field(img, "/clean", "inode"), stat_field(img, "/dirty", "inode")
    c = launch(nodes=3, pool="64M", node_args={"all": "region=8 fswriteback=0"},
               extra=["--disk-path", str(img)])
    mounted(c, 3, "lossy")

    # node 0 reads one file (clean pages); node 1 overwrites the other, no fsync (dirty
    # pages; background writeback is off, or on an idle machine it can clean all 512
    # between the look at the cache and the failure)
    assert fsread(c, 0, "/clean")[:2] == (len(clean), fnv(tmp_path / "clean"))
    ok(c, 1, "fsop pattern /dirty %d 5" % DIRTY_SIZE)
    before = cache_pages(c.pool_path)
    hit = sorted({busiest(before, lambda p: p[0] == ino_dirty and p[3]),
                  busiest(before, lambda p: p[0] == ino_clean)})
    marks = [c.mark(n) for n in range(3)]
    for r in hit:
        c.fail_region(r)
    in_failed = [p for p in before if p[2] in hit]
    assert any(p[0] == ino_dirty and p[3] for p in in_failed), "writeback was too quick"

    # every node handles them (both at once, or one after the other) and says what its
    # passes over the cache did: the last line comes after the last failure's
    clean_dropped = dirty_lost = 0
    for n in range(3):
        last = max(c.wait_line(n, r"node %d: region %d failed$" % (n, r), timeout=20,
                               since=marks[n]).end() for r in hit)
        c.wait_line(n, LOST_LINE % n, timeout=30, since=last)
        for m in re.finditer(LOST_LINE % n, c.log(n)[marks[n]:], re.M):
            clean_dropped += int(m.group(1))
            if m.group(2):
                dirty_lost += int(m.group(2))
                assert str(ino_dirty) in m.group(3).split(", "), m.group(0)
    assert dirty_lost > 0 and clean_dropped > 0, (clean_dropped, dirty_lost)
    # between them they let go of every page the cache had in those regions
    assert clean_dropped + dirty_lost == len(in_failed), (clean_dropped, dirty_lost, len(in_failed))
    rep = c.inspect()
    # the file keeps one LOST mark per node that let its pages go (pcache_lost), so
    # its fsync says EIO; the counters count every page
    assert 1 <= rep["page_cache"]["lost"] <= 3, rep["page_cache"]
    assert sum(e["lost"] for e in rep["page_cache"]["nodes"]) == dirty_lost
    assert not [p for p in cache_pages(c.pool_path) if p[2] in hit], "a lost frame is still cached"

    # the clean file reads again, from the disk, right, on a node that never read it
    got, h, reads, _ = fsread(c, 2, "/clean")
    assert (got, h) == (len(clean), fnv(tmp_path / "clean"))
    assert reads >= sum(p[0] == ino_clean for p in in_failed), reads
    # the dirty file: fsync and write say EIO, on any node, until it is removed
    mark = c.mark(1)
    status, out = run(c, 1, "fsop fsync /dirty")
    assert status == 1 and "fsop: fsync /dirty: I/O error" in out, out
    c.wait_line(1, r"node 1: fs: inode %d lost dirty pages with a pool region: EIO" % ino_dirty,
                since=mark)
    status, out = run(c, 0, "fsop pattern /dirty 4096 6")
    assert status == 1 and "fsop: write /dirty: I/O error" in out, out

    # every kernel stays up and goes on working
    for n in range(3):
        mark = c.mark(n)
        c.send(n, "nodes")
        c.wait_line(n, r"node %d: nodes: 3$" % n, timeout=10, since=mark)
        ok(c, n, "fsop pattern /after%d 200000 %d" % (n, 10 + n))
        assert "matches" in ok(c, (n + 1) % 3, "fsop verify /after%d 200000 %d" % (n, 10 + n))
        assert "CPU exception" not in c.log(n) and "panic" not in c.log(n)
    # removing the file forgets its lost pages
    ok(c, 2, "rm /dirty")
    rep = c.inspect()
    assert rep["page_cache"]["lost"] == 0, rep["page_cache"]
    assert rep["allocator"]["leaked"] == 0 and rep["allocator"]["inconsistent"] == 0
    c.down()

    fsck_clean(img)
    assert tool("get", img, "/clean", tmp_path / "back").returncode == 0
    assert (tmp_path / "back").read_bytes() == clean
    assert "dirty" not in tool("ls", img, "/").stdout.decode().split()
