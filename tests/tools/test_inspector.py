"""Tests of the pool inspector (`dmos pool`) and the pool reader under it.

Without a kernel: synthetic pools (dmoslib.poolimage lays them out byte for
byte as a kernel formats them) show every section with the right numbers,
in text and in JSON with the same content (the page cache's files, named
from a dmosfs image the host tool made, and each node's counters); damaged files (truncated, wrong
magic or version, offsets out of range, smashed area headers, random bytes
over the control state) give one clear `dmos: ...` line and exit 1, never a
traceback. The inspector on a live cluster's pool is in
tests/cluster/test_inspector_live.py.
"""

import json
import os
import random
import re
import subprocess

import pytest

from conftest import REPO, run_dmos, write_pool
from dmoslib import inspector, pool, poolctl, poolimage, poolmem
from poolcheck import dmos_pool, text_agrees_with_json

MiB = 1 << 20


# --- synthetic pools: every section, text and JSON ---------------------------

def test_a_fresh_pool(tmp_path):
    path = write_pool(str(tmp_path / "fresh.pool"), cluster="fresh", claim=3)
    r, rep = dmos_pool(path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and rep["problems"] == [] and rep["warnings"] == []
    assert rep["status"] == "formatted" and rep["formatted_by"] == 2
    sb = rep["superblock"]
    assert (sb["cluster_id"], sb["pool_size"], sb["npages"], sb["regions"]) == \
        ("fresh", 64 * MiB, 15872, 2)
    assert [a["name"] for a in sb["areas"]] == list(inspector.AREAS)
    assert rep["nodes"] == [] and "nodes: none has joined yet" in r.stdout
    assert [(g["state"], g["frames"], g["used"], g["free"]) for g in rep["regions"]] == \
        [("online", 8192, 0, 8192), ("online", 7680, 0, 7680)]
    x = rep["translation"]
    assert (x["entries"], x["table_bytes"], x["block_pages"], x["moves"], x["moving"],
            x["remapped"]) == (15872, 15872 * 4, 1, 0, 0, 0)
    a = rep["allocator"]
    assert (a["free"], a["used"], a["chunks"], a["chunks_unowned"], a["leaked"],
            a["inconsistent"]) == (15872, 0, 31, 31, 0, 0)
    assert [(g["from"], g["to"]) for g in rep["rings"]["rings"]] == \
        [(f, t) for f in range(3) for t in range(3) if f != t]
    assert rep["leases"]["free"] == 64 and rep["leases"]["held"] == []
    assert "superblock: version 5, cluster 'fresh', formatted by node 2" in r.stdout
    text_agrees_with_json(r.stdout, rep)


def busy_pool(path):
    """A pool as three kernels would leave it after some work and a crash."""
    img = poolimage.create(path, 64 * MiB, 3, "busy", claim=1)
    img.node(0, "up", 1, 500, 62 * MiB, doorbell=0)
    img.node(1, "up", 2, 400, 62 * MiB, doorbell=3)
    img.node(2, "dead", 1, 90, 62 * MiB, doorbell=2, dead_by=2, reclaimed=7)
    img.own(0, 0)
    img.own(1, 1)
    img.own(5, 2)                           # stranded: its owner is dead
    for p in range(10):
        img.take(p, 0, pid=5)
    img.take(512, 1, pid=9)
    img.take(513, 1, flags=poolmem.PALLOC_F_RESERVED, pid=0)
    img.take(9100, 2)                       # leaked: node 2 is dead
    img.entry(3, 9000)                      # block 3 moved onto frame 9000 ...
    img.entry(9000, 3)                      # ... whose old frame is now spare
    img.moves(1, 1)
    img.region(0, "online", moves_out=1, pages_out=1)
    img.entry(20, 20, moving=True)
    img.region(1, "draining")
    img.lease(2, (2 << 48) | 2)             # node 1, epoch 2: alive
    img.lease(4, (3 << 48) | 1)             # node 2 (dead): stale
    img.lease(7, poolctl.LEASE_BROKEN)
    img.ring(0, 1, sent=5, received=3, full=1)
    img.ring(1, 0, sent=2, received=2)
    return img


def test_a_busy_pool(tmp_path):
    path = str(tmp_path / "busy.pool")
    busy_pool(path)
    r, rep = dmos_pool(path)
    assert r.returncode == 0, r.stderr
    assert [(n["slot"], n["state"], n["epoch"], n["doorbell"], n["dead_by"],
             n["reclaimed"]) for n in rep["nodes"]] == \
        [(0, "up", 1, 0, None, 0), (1, "up", 2, 3, None, 0), (2, "dead", 1, 2, 1, 7)]
    a = rep["allocator"]
    assert a["used_by_node"] == {"0": 10, "1": 2, "2": 1} and a["used"] == 13
    assert a["free"] == 15872 - 13 and a["reserved"] == 1
    assert a["chunks_by_node"] == {"0": 1, "1": 1, "2": 1} and a["chunks_unowned"] == 28
    assert (a["leaked"], a["leaked_by_node"], a["stranded_chunks"]) == (1, {"2": 1}, 1)
    assert (a["inconsistent"], a["bad_records"]) == (0, 0)
    reg = rep["regions"]
    # page 3 sits on frame 9000, in region 1 now
    assert reg[0]["used_by_node"] == {"0": 9, "1": 2} and reg[0]["used"] == 11
    assert reg[1]["used_by_node"] == {"0": 1, "2": 1} and reg[1]["state"] == "draining"
    assert (reg[0]["moves_out"], reg[0]["free"]) == (1, 8192 - 11)
    assert reg[0]["used_by_pid"] == {"0": 1, "5": 9, "9": 1}
    assert reg[1]["used_by_pid"] == {"1": 1, "5": 1}
    x = rep["translation"]
    assert (x["moves"], x["pages_moved"], x["moving"], x["moving_blocks"], x["remapped"]) \
        == (1, 1, 1, [20], 2)
    ls = rep["leases"]
    assert ls["held"] == [dict(slot=2, node=1, epoch=2, holder="live", guards=None),
                          dict(slot=4, node=2, epoch=1, holder="stale", guards=None)]
    assert ls["broken"] == [7] and ls["free"] == 61
    rings = {(g["from"], g["to"]): g for g in rep["rings"]["rings"]}
    assert (rings[0, 1]["sent"], rings[0, 1]["in_flight"], rings[0, 1]["full"]) == (5, 2, 1)
    assert rings[0, 1]["pending"] == ["?", "?"] and rings[1, 0]["in_flight"] == 0
    assert any("1 pages are owned by dead or absent nodes" in w for w in rep["warnings"])
    for text in ("regions: 2 (1 online, 1 draining)", "1 blocks moving (20)",
                 "broken (their holder died holding them): 7"):
        assert text in r.stdout, text
    text_agrees_with_json(r.stdout, rep)


def test_a_failed_region(tmp_path):
    """What the kernels count in a failed region, and pages per process."""
    img = poolimage.create(str(tmp_path / "f.pool"), 64 * MiB, 3, "f")
    for p in range(8):
        img.take(p, 0, pid=1000000 + p % 4)        # four processes on node 0
    img.take(8192, 1, pid=2000001)
    img.region(1, "failed", lost_optional=300, lost_vital=12, killed=1, failed_seq=2)
    img.failures(2)
    r, rep = dmos_pool(img.path)
    assert r.returncode == 0 and rep["problems"] == [], r.stderr
    g = rep["regions"][1]
    assert (g["state"], g["failed_seq"], g["lost_optional"], g["lost_vital"], g["killed"]) \
        == ("failed", 2, 300, 12, 1)
    assert g["used_by_pid"] == {"2000001": 1} and rep["translation"]["failures"] == 2
    assert rep["regions"][0]["used_by_pid"] == {str(1000000 + i): 2 for i in range(4)}
    assert rep["regions"][0]["failed_seq"] == rep["regions"][0]["lost_vital"] == 0
    for text in ("regions: 2 (1 online, 1 failed), 2 failed since format",
                 "1000000:2 1000001:2 1000002:2 +1",
                 "  region 1 failed (failure 2): lost 300 optional and 12 vital pages in "
                 "use; killed 1 process\n"):
        assert text in r.stdout, text
    text_agrees_with_json(r.stdout, rep)


def test_a_node_that_lost_the_pool(tmp_path):
    """link_down (@48 of the node's entry, set by `dmos fail-link`) shows as the
    node's link, up or down; the reserved word after it is not read."""
    img = poolimage.create(str(tmp_path / "l.pool"), 64 * MiB, 3, "l")
    img.node(0, "up", 1, 500, 62 * MiB)
    img.node(1, "dead", 1, 90, 62 * MiB, dead_by=1, reclaimed=3, link_down=1)
    img.node(2, "up", 1, 480, 62 * MiB)
    entry = img.sb["node_table_off"] + pool.NODE_SIZE
    assert img.get(entry + 48, 16) == (1).to_bytes(8, "little") + bytes(8)
    img.u64(img.sb["node_table_off"] + 2 * pool.NODE_SIZE + 56, 0xFFFFFFFF)   # reserved
    r, rep = dmos_pool(img.path)
    assert r.returncode == 0 and rep["problems"] == [], r.stderr
    assert [(n["slot"], n["state"], n["link_down"], n["dead_by"], n["reclaimed"])
            for n in rep["nodes"]] == [(0, "up", False, None, 0), (1, "dead", True, 0, 3),
                                       (2, "up", False, None, 0)]
    assert "nodes: 3 joined, 1 lost the pool (link down)\n" in r.stdout
    assert re.search(r"^  node +state +link +epoch ", r.stdout, re.M)
    assert re.search(r"^  1 +dead +down +1 +90 ", r.stdout, re.M)
    text_agrees_with_json(r.stdout, rep)
    assert [n.link_down for n in pool.read_pool(img.path).nodes[:3]] == [False, True, False]
    img.u64(entry + 48, 0x100000000)                # any value but 0 is down
    assert pool.read_pool(img.path).node(1).link_down is True


def cached_pool(path):
    """A page cache as three kernels leave it: metadata and file pages, dirty, being
    written back, lost, filling, pinned; counters of nodes 0, 1 and 2 (dead)."""
    img = poolimage.create(path, 64 * MiB, 3, "fs")
    img.node(0, "up", 1, 500, 62 * MiB)
    img.node(1, "up", 1, 480, 62 * MiB)
    img.node(2, "dead", 1, 90, 62 * MiB, dead_by=1)
    for ppn in range(100, 107):
        img.take(ppn, 0)
    img.cache_slot(0, ino=0, index=5, ppn=100)
    img.cache_slot(1, ino=0, index=6, dirty=True, ppn=101)
    img.cache_slot(8, ino=2, index=0, ppn=102, pins=1 << 1)
    img.cache_slot(9, ino=2, index=1, dirty=True, ppn=103)
    img.cache_slot(10, "busy", ino=2, index=2, lost=True, owner=1, ppn=104)  # writing back
    img.cache_slot(16, ino=7, index=0, dirty=True, lost=True)               # a region took it
    img.cache_slot(17, "filling", ino=7, index=1, owner=0, ppn=105)
    img.cache_slot(24, ino=9, index=3, ppn=106, pins=1 << 0 | 1 << 1)
    img.counters(0, hits=10, misses=4, fills=3, fill_waits=1, evictions=2,
                 disk_reads=9, disk_read_bytes=9 * 4096, disk_flushes=1)
    img.counters(1)
    img.counters(2, attaches=2, hits=7, writebacks=3, lost=1, disk_writes=3,
                 disk_write_bytes=3 * 4096, disk_errors=1)
    return img


COUNTS = dict.fromkeys(("attaches", "hits", "misses", "fills", "fill_waits", "evictions",
                        "writebacks", "lost", "disk_reads", "disk_read_bytes", "disk_writes",
                        "disk_write_bytes", "disk_flushes", "disk_errors"), 0)


def test_the_page_cache_files_and_counters(tmp_path):
    img = cached_pool(str(tmp_path / "c.pool"))
    r, rep = dmos_pool(img.path)
    assert r.returncode == 0 and rep["problems"] == [], r.stderr
    c = rep["page_cache"]
    assert (c["pages"], c["metadata"], c["metadata_dirty"], c["dirty"], c["lost"],
            c["pinned"]) == (7, 2, 1, 3, 1, 2)
    assert c["states"] == {"free": c["slots"] - 8, "filling": 1, "valid": 6, "busy": 1}
    assert c["files"] == [dict(ino=2, pages=3, dirty=2, lost=0, path=None),
                          dict(ino=7, pages=0, dirty=0, lost=1, path=None),
                          dict(ino=9, pages=1, dirty=0, lost=0, path=None)]
    assert c["disk"] is None
    assert c["nodes"] == [
        dict(COUNTS, node=0, pins=1, attaches=1, hits=10, misses=4, fills=3, fill_waits=1,
             evictions=2, disk_reads=9, disk_read_bytes=9 * 4096, disk_flushes=1),
        dict(COUNTS, node=1, pins=2, attaches=1),
        dict(COUNTS, node=2, pins=0, attaches=2, hits=7, writebacks=3, lost=1,
             disk_writes=3, disk_write_bytes=3 * 4096, disk_errors=1)]
    assert "page cache: 512 sets of 8 slots, 7 pages (2 of metadata, 4 of 3 files), 3 dirty, " \
        "1 lost, 2 pinned; 1 filling, 1 busy\n" in r.stdout
    assert "page cache files: 3 (give --disk-path IMAGE to name them)\n" in r.stdout
    assert re.search(r"^  2 +3 +2 +0 +-$", r.stdout, re.M)
    assert re.search(r"^  0 +1 +10 +4 +3 +1 +2 +0 +0 +1 +9 +36864 +0 +0 +0$", r.stdout, re.M)
    text_agrees_with_json(r.stdout, rep)


def test_the_text_shows_the_files_with_most_pages(tmp_path):
    img = poolimage.create(str(tmp_path / "many.pool"), 64 * MiB, 3, "many")
    for i in range(inspector.TOP_FILES + 5):        # inode 10 + i: i + 1 pages
        for k in range(i + 1):
            img.cache_slot(i * 32 + k, ino=10 + i, index=k, ppn=i * 32 + k)
    r, rep = dmos_pool(img.path)
    assert r.returncode == 0, r.stderr
    assert len(rep["page_cache"]["files"]) == inspector.TOP_FILES + 5
    assert "page cache files: 25, the 20 with the most pages " in r.stdout
    shown = re.findall(r"^  (\d+) +(\d+) +0 +0 +-$", r.stdout, re.M)
    assert shown == [(str(10 + i), str(i + 1)) for i in range(24, 4, -1)]
    text_agrees_with_json(r.stdout, rep)


@pytest.fixture(scope="module")
def dmosfs_tool():
    subprocess.run(["make", "-s", "-C", REPO, "build/tools/dmosfs"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(REPO, "build", "tools", "dmosfs")


def inode_of(tool, disk, path):
    out = subprocess.run([tool, "stat", disk, path], check=True, capture_output=True,
                         text=True).stdout
    return int(re.match(r"inode +(\d+)", out).group(1))


def test_the_files_are_named_from_the_disk_image(tmp_path, dmosfs_tool):
    disk = str(tmp_path / "disk.img")
    host = tmp_path / "f"
    host.write_bytes(b"x" * 10000)
    for args in (["mkfs", disk, "--size", "16M"], ["mkdir", disk, "/d"],
                 ["mkdir", disk, "/d/e"], ["put", disk, host, "/d/e/f"],
                 ["put", disk, host, "/top"]):
        subprocess.run([dmosfs_tool, *map(str, args)], check=True, capture_output=True)
    f, top, e = (inode_of(dmosfs_tool, disk, p) for p in ("/d/e/f", "/top", "/d/e"))
    img = poolimage.create(str(tmp_path / "n.pool"), 64 * MiB, 3, "n")
    img.cache_slot(0, ino=f, index=0, ppn=1)
    img.cache_slot(1, ino=f, index=2, ppn=2)
    img.cache_slot(2, ino=top, index=0, ppn=3, dirty=True)
    img.cache_slot(3, ino=e, index=0, ppn=4)
    img.cache_slot(4, ino=1000, index=0, ppn=5)             # on no disk: a stale page
    r, rep = dmos_pool(img.path, "--disk-path", disk)
    assert r.returncode == 0 and rep["warnings"] == [], (r.stderr, rep["warnings"])
    assert {x["ino"]: (x["path"], x["pages"]) for x in rep["page_cache"]["files"]} == \
        {f: ("/d/e/f", 2), top: ("/top", 1), e: ("/d/e", 1), 1000: (None, 1)}
    assert rep["page_cache"]["disk"] == disk
    assert "page cache files: 4, named as on %s\n" % disk in r.stdout
    assert re.search(r"^  %d +2 +0 +0 +/d/e/f$" % f, r.stdout, re.M)
    assert re.search(r"^  1000 +1 +0 +0 +\?$", r.stdout, re.M)
    text_agrees_with_json(r.stdout, rep)

    # not a dmosfs: the files stay unnamed, with a warning; the pool is fine
    r, rep = dmos_pool(img.path, "--disk-path", img.path)
    assert r.returncode == 0 and rep["problems"] == []
    assert rep["warnings"] == ["the cached files have no names: %s is not a dmosfs image "
                               "(bad magic 0x%016x)" % (img.path, poolimage.POOL_MAGIC)]
    assert all(x["path"] is None for x in rep["page_cache"]["files"])
    r = run_dmos("pool", "--pool-path", img.path, "--disk-path", tmp_path / "nope.img")
    assert r.returncode == 2 and r.stderr == "dmos: --disk-path %s: no such file or " \
        "device\n" % (tmp_path / "nope.img")


@pytest.mark.parametrize("change,message", [
    ("stats_off", r"page cache header disagrees with the superblock: stats_off 0 "
                  r"\(want 131136\)"),
    ("size", r"page cache header disagrees with the superblock: tables end at \+0x22040, "
             r"past the area's 131136 bytes"),
])
def test_a_damaged_counters_header(tmp_path, change, message):
    """The counters table must be where the header says and inside the area: else
    the kernel refuses the pool, and so does the inspector (the page cache is not read)."""
    img = cached_pool(str(tmp_path / "d.pool"))
    if change == "stats_off":
        img.u64(img.sb["pcache_off"] + 56, 0)
    else:                                   # an area without room for the table
        img.set_super(pcache_size=img.sb["pcache_size"] - 8192)
    r, rep = dmos_pool(img.path)
    assert r.returncode == 1
    assert re.fullmatch(r"dmos: damaged pool %s: %s" % (re.escape(img.path), message),
                        one_line(r))
    assert rep["page_cache"] is None and "page cache: unreadable" in r.stdout


def test_bits_without_records_are_inconsistent_not_damage_and_2m_blocks(tmp_path):
    img = poolimage.create(str(tmp_path / "p.pool"), 128 * MiB, 2, "x", gshift=9)
    img.take(7, 0, record=False)            # a node died between bit and record
    img.take(8, 1, bit=False)               # taken, not marked yet
    r, rep = dmos_pool(img.path)
    assert r.returncode == 0, r.stderr
    assert rep["allocator"]["inconsistent"] == 2 and rep["allocator"]["used"] == 1
    assert "2 inconsistent" in r.stdout and "warning: 2 pages whose bitmap bit" in r.stdout
    x, npages = rep["translation"], rep["superblock"]["npages"]
    assert (x["block_pages"], x["block_bytes"], x["entries"]) == (512, 2 * MiB, npages // 512)
    assert "translation granularity 2 MiB" in r.stdout


def test_unformatted_and_half_formatted(tmp_path):
    path = tmp_path / "zero.pool"
    with open(path, "wb") as f:
        f.truncate(16 * MiB)
    assert not pool.read_pool(str(path)).formatted
    r, rep = dmos_pool(str(path))
    assert r.returncode == 0 and rep["status"] == "unformatted"
    assert "unformatted (no node has booted yet)" in r.stdout
    with open(path, "r+b") as f:            # a formatter claimed it: node 2
        f.seek(12)
        f.write((3).to_bytes(4, "little"))
    r, rep = dmos_pool(str(path))
    assert r.returncode == 0 and rep["status"] == "formatting"
    assert "node 2 claimed it and is formatting it" in r.stdout
    r = run_dmos("pool", "--pool-path", tmp_path / "nope.pool")
    assert r.returncode == 2 and r.stderr == "dmos: --pool-path %s: no such file or " \
        "device\n" % (tmp_path / "nope.pool")


# --- damaged files: one line, exit 1, never a traceback ------------------------

def one_line(r):
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmos: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


@pytest.mark.parametrize("fields,message", [
    (dict(cut=MiB), r"damaged pool: .* is 1048576 bytes but its superblock says 67108864 "
                    r"\(truncated\?\)"),
    (dict(cut=6000), r"damaged pool: .* is 6000 bytes, a pool is at least 8 KiB"),
    (dict(magic=0x1234), r"not a dmos pool \(bad magic 0x0000000000001234"),
    (dict(version=7), r"dmos pool format version 7, want version 5"),
    (dict(max_nodes=1000), r"damaged pool: max_nodes is 1000, must be 1..64"),
    (dict(size=MiB, max_nodes=0), r"damaged pool: max_nodes is 0"),
    (dict(size=MiB, table=0x10), r"damaged pool: node table at 0x10 \(64 entries\)"),
    (dict(size=MiB, table=MiB - 64), r"damaged pool: node table at 0xfffc0"),
    (dict(random=True), r"not a dmos pool \(bad magic 0x[0-9a-f]{16}"),
])
def test_not_a_pool_we_know(tmp_path, fields, message):
    path, cut = str(tmp_path / "bad.pool"), fields.pop("cut", None)
    if fields.pop("random", False):
        with open(path, "wb") as f:
            f.write(random.Random(1).randbytes(64 << 10))
    else:
        write_pool(path, **fields)
    if cut:
        os.truncate(path, cut)
    with pytest.raises(pool.PoolError, match=message):
        pool.read_pool(path)
    r, _ = dmos_pool(path)
    assert r.returncode == 1 and r.stdout == ""
    assert re.fullmatch("dmos: " + message + ".*", one_line(r))


@pytest.mark.parametrize("field,value,message", [
    ("ring_off", 1 << 30, r"rings at 0x40000000\.\..* is past the end of the pool"),
    ("xlate_off", 0x3000, r"translation: bad magic 0x4853454d474e4952"),
    ("palloc_off", 8, r"allocator at 0x[0-9a-f]+8 is not 64-byte aligned"),
    ("lease_off", (64 << 20) - 64, r"leases at 0x3ffffc0\.\.0x4000fc0 runs into rings"),
    ("npages", 1 << 40, r"data at 0x200000\.\..* is past the end of the pool"),
    ("region_pages", 0, r"region_pages 0 is not in 1\.\.npages"),
    ("ring_size", 8, r"the ring area is 8 bytes, less than its header"),
])
def test_bad_offsets(tmp_path, field, value, message):
    value += poolimage.layout(64 * MiB, 3)["palloc_off"] if field == "palloc_off" else 0
    path = poolimage.create(str(tmp_path / "bad.pool"), **{field: value}).path
    r, rep = dmos_pool(path)
    assert r.returncode == 1
    assert r.stdout.startswith("pool %s (64 MiB)" % path)  # what can be read is shown
    line = one_line(r)
    assert line.startswith("dmos: damaged pool %s: " % path)
    assert any(re.search(message, prob) for prob in rep["problems"]), rep["problems"]
    assert "DAMAGED: " in r.stdout


@pytest.mark.parametrize("what,message", [
    ("xlate npages", r"translation header disagrees with the superblock: npages 1 "
                     r"\(want 15872\)"),
    ("xlate entry", r"translation: 1 entries name a device block past the last"),
    ("region state", r"region 1: state 9 is none of online, draining"),
    ("palloc magic", r"allocator: bad magic 0x0000000000000000"),
    ("palloc words", r"allocator header disagrees with the superblock: words 3 \(want 8\)"),
    ("palloc record", r"allocator: 1 page records name no node"),
    ("mesh nodes", r"ring mesh: damaged geometry \(1000 nodes"),
    ("mesh magic", r"ring mesh: bad magic"),
    ("ring header", r"ring 1->2: header says magic 0x00000000"),
    ("ring counters", r"ring 2->0: sent 3 and received 9 are -6 apart"),
    ("lease junk", r"lease 9 holds 0x00000000000000ff, which names no node"),
    ("lease stride", r"1 non-zero words in the lease area between lease lines "
                     r"\(first at lease_off\+0x8\)"),
])
def test_damaged_areas(tmp_path, what, message):
    img = poolimage.create(str(tmp_path / "bad.pool"), 64 * MiB, 3, "bad")
    sb, g = img.sb, img.geom
    x, pa, ro = sb["xlate_off"], sb["palloc_off"], sb["ring_off"]
    {"xlate npages": lambda: img.u64(x + 16, 1),
     "xlate entry": lambda: img.entry(5, 1 << 30),
     "region state": lambda: img.put(x + g["regions_off"] + 64, b"\x09"),
     "palloc magic": lambda: img.u64(pa, 0),
     "palloc words": lambda: img.put(pa + 32, b"\x03"),
     "palloc record": lambda: img.take(40, -1),    # node field 0, but a pid: no node
     "mesh nodes": lambda: img.put(ro + 12, (1000).to_bytes(4, "little")),
     "mesh magic": lambda: img.u64(ro, 0x1234),
     "ring header": lambda: img.ring(1, 2, magic=0),
     "ring counters": lambda: img.ring(2, 0, sent=3, received=9),
     "lease junk": lambda: img.lease(9, 0xFF),
     # lease 1 where an array of 8-byte leases would put it
     "lease stride": lambda: img.lease(1, (1 << 48) | 1, stride=8)}[what]()
    r, rep = dmos_pool(img.path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert one_line(r).startswith("dmos: damaged pool %s: " % img.path)
    assert any(re.search(message, prob) for prob in rep["problems"]), rep["problems"]
    assert "nodes: none has joined yet" in r.stdout     # the rest is still shown


def test_random_damage_never_crashes(tmp_path):
    """Random bytes over the control state: a report or a PoolError, nothing else."""
    rnd = random.Random(7)
    path = str(tmp_path / "fuzz.pool")
    img = busy_pool(path)
    clean = img.get(0, img.sb["data_off"])
    outcomes = set()
    for i in range(150):
        img.put(0, clean)
        for _ in range(rnd.choice((1, 4, 32))):
            off = rnd.choice((0, rnd.randrange(0, 200), rnd.randrange(img.sb["lease_off"],
                                                                     img.sb["data_off"])))
            img.put(off, rnd.randbytes(rnd.choice((1, 4, 8, 64))))
        try:
            rep = inspector.inspect(path)
            inspector.describe(rep)
            json.dumps(rep)
            outcomes.add("damaged" if rep["problems"] else "ok")
        except pool.PoolError as e:
            assert str(e), "empty message"
            outcomes.add("refused")
        if i % 50 == 0:                     # and the CLI says so in one line
            r = run_dmos("pool", "--pool-path", path)
            assert r.returncode in (0, 1) and "Traceback" not in r.stderr
            if r.returncode:
                one_line(r)
    assert {"damaged", "refused"} <= outcomes, outcomes
