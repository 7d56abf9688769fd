"""Each node's file system counters, kept in the pool: seen from the host
(`dmos pool --json`, the page cache's counters table), from a program on
the node (fsstat, SYS_fsinfo), and after the node's death.

A file put on the disk before boot (build/tools/dmosfs put) is read by node
0, from the disk into the page cache in the pool, then by node 2, from the
pool. The inspector shows the file by its path, its pages cached; node 0's
entry holds the disk reads and fills, node 2's the hits and not one disk
read more; fsstat on each node prints exactly what its entry holds. Node 0
is then killed: its entry still says what it did.
"""

import random
import re
import subprocess

import pytest

from dmoslib import params

BLOCK = 4096
PAGES = 64
READ = r"fsread: /data: (\d+) bytes, fnv1a64 ([0-9a-f]{16}), \d+ us; disk reads (\d+) "
# fsstat's names -> the counters table's (poolcache.STATS)
NAMES = {"disk_reads": "disk_reads", "disk_read_bytes": "disk_read_bytes",
         "disk_writes": "disk_writes", "disk_write_bytes": "disk_write_bytes",
         "disk_flushes": "disk_flushes", "disk_errors": "disk_errors", "cache_hits": "hits",
         "cache_misses": "misses", "cache_fills": "fills", "cache_fill_waits": "fill_waits",
         "cache_evictions": "evictions", "cache_writebacks": "writebacks",
         "cache_lost": "lost"}


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


@pytest.fixture
def disk(tmp_path):
    """A 16 MiB dmosfs with /data (PAGES pages of seeded bytes); (image, bytes, inode)."""
    img, host = tmp_path / "disk.img", tmp_path / "data"
    data = random.Random(11).randbytes(PAGES * BLOCK)
    host.write_bytes(data)
    for args in (["mkfs", img, "--size", "16M"], ["put", img, host, "/data"]):
        subprocess.run([params.DMOSFS, *map(str, args)], check=True, capture_output=True)
    out = subprocess.run([params.DMOSFS, "stat", img, "/data"], check=True,
                         capture_output=True, text=True).stdout
    return img, data, int(re.match(r"inode +(\d+)", out).group(1))


def run(c, n, line):
    """Run a program on node n's monitor: (exit status, its output)."""
    return c.run_program(n, line, timeout=120)


def fsstat(c, n):
    """{counter: value} as fsstat on node n prints them (its table's names)."""
    status, out = run(c, n, "fsstat")
    got = dict(re.findall(r"^(\w+) (\d+)\r?$", out, re.M))
    assert status == 0 and set(got) == set(NAMES), out
    assert re.search(r"fsstat: node %d, dmosfs mounted, a page cache of \d+ sets" % n, out)
    return {NAMES[k]: int(v) for k, v in got.items()}


def entry(rep, n):
    """Node n's entry of the page cache's counters table, as the inspector read it."""
    nodes = {e["node"]: e for e in rep["page_cache"]["nodes"]}
    assert n in nodes, rep["page_cache"]["nodes"]
    return {k: nodes[n][k] for k in NAMES.values()}


def fsread(c, n, want):
    status, out = run(c, n, "fsread /data")
    m = re.search(READ, out)
    assert status == 0 and m, out
    assert (int(m.group(1)), int(m.group(2), 16)) == (len(want), fnv1a(want)), out
    return int(m.group(3))


@pytest.mark.boot
def test_counters_in_the_pool_from_host_program_and_after_death(launch, disk):
    img, data, ino = disk
    c = launch(nodes=3, extra=["--disk-path", str(img)])
    for n in range(3):
        c.wait_line(n, r"node %d: fs: dmosfs '[^']*' at / \(read-write\)" % n)

    # before: every node's entry is in use, and is what fsstat says
    before = {n: fsstat(c, n) for n in (0, 2)}
    rep = c.inspect()
    assert [e["node"] for e in rep["page_cache"]["nodes"]] == [0, 1, 2]
    assert all(e["attaches"] == 1 for e in rep["page_cache"]["nodes"])
    for n in (0, 2):
        assert entry(rep, n) == before[n], n
    assert ino not in [f["ino"] for f in rep["page_cache"]["files"]]

    # node 0 reads the file from the disk, node 2 from the pool
    cold = fsread(c, 0, data)
    warm = fsread(c, 2, data)
    assert cold >= PAGES and warm == 0, (cold, warm)
    after = {n: fsstat(c, n) for n in (0, 2)}
    rep = c.inspect()
    assert rep["problems"] == [], rep["problems"]
    files = {f["ino"]: f for f in rep["page_cache"]["files"]}
    assert files[ino] == dict(ino=ino, pages=PAGES, dirty=0, lost=0, path="/data"), files
    assert rep["page_cache"]["disk"] == str(img)
    for n in (0, 2):
        assert entry(rep, n) == after[n], n
    moved = {n: {k: after[n][k] - before[n][k] for k in after[n]} for n in (0, 2)}
    # node 0: every page from the disk, with the map's blocks through the cache
    assert PAGES <= moved[0]["fills"] <= moved[0]["disk_reads"] <= PAGES + 4, moved[0]
    assert moved[0]["disk_read_bytes"] == moved[0]["disk_reads"] * BLOCK, moved[0]
    assert moved[0]["misses"] == moved[0]["fills"], moved[0]
    # node 2: not one disk read, every page a hit
    assert (moved[2]["disk_reads"], moved[2]["disk_read_bytes"], moved[2]["fills"],
            moved[2]["misses"], moved[2]["fill_waits"]) == (0, 0, 0, 0, 0), moved[2]
    assert moved[2]["hits"] >= PAGES, moved[2]
    for n in (0, 2):
        assert (after[n]["evictions"], after[n]["writebacks"], after[n]["lost"],
                after[n]["disk_writes"], after[n]["disk_errors"]) == (0, 0, 0, 0, 0), n
    print("%d pages: node 0 %d fills, %d disk reads; node 2 %d hits, %d disk reads" % (
        PAGES, moved[0]["fills"], moved[0]["disk_reads"], moved[2]["hits"],
        moved[2]["disk_reads"]))
    text = c.dmos("pool").stdout
    assert re.search(r"^  %d +%d +0 +0 +/data\r?$" % (ino, PAGES), text, re.M), text

    # node 0 dies: its entry stays for the post-mortem, its pages in the cache
    c.kill(0)
    for n in (1, 2):
        c.wait_line(n, r"node 0 (declared dead|is dead)", timeout=30)
    rep = c.inspect()
    assert rep["nodes"][0]["state"] == "dead"
    assert entry(rep, 0) == after[0]
    assert {f["ino"]: f["pages"] for f in rep["page_cache"]["files"]}[ino] == PAGES
    assert fsread(c, 2, data) == 0
