"""The page cache index of the cluster file system, read from the host.

Mirrors fs/pcache.h: one area of the pool (pcache_off, pcache_size,
pcache_nsets in the superblock) that starts with a one-line header and then
holds three arrays of nsets * 8 u64 words, set-major: the slot words (state,
dirty, lost, owner, tag), the frame words (a page is there, its pool page
number) and the pin words (one bit per node copying from the page); then the
file system's tables, and last each node's counters.

  struct pcache_hdr (64 bytes)
    @0 u64 magic "DMPCACHE"  @8 u32 version (2)  @12 u32 nsets
    @16 u64 slots_off  @24 u64 frames_off  @32 u64 pins_off  @40 u64 locks_off
    @48 u64 opens_off  @56 u64 stats_off  (from the area's start; PCACHE_NLOCKS
    leases a line each, PCACHE_NOPENS open-table entries of two u64: inode, node
    mask, MAX_NODES counter entries of 128 bytes, entry n node n's)
  struct pcache_stats (128 bytes, u64 each; only its node writes it)
    @0 attaches (0: the node never attached)  @8 hits  @16 misses  @24 fills
    @32 fill_waits  @40 evictions  @48 writebacks  @56 lost
    @64 disk reads  @72 read bytes  @80 writes  @88 write bytes  @96 flushes
    @104 errors  (the disk's: as the node last published them)  @112 reserved
  slot word   63..62 state (0 free, 1 filling, 2 valid, 3 busy) | 61 dirty | 60 lost
              | 59..54 owner (the node filling or holding it busy) | 53..0 tag
  tag         inode << 32 | page index; inode 0: a metadata block of the disk

read_pcache() checks the invariants pcache_small .. pcache_frame of
pool.INVARIANTS (as check_pcache() in kernel/cluster/poolcheck.c does) and
counts what the cache holds, per state, per inode (pages, dirty, lost) and per
node (its pins and its counters). "pages" counts the pool pages the slots hold
(FILLING ones too); a file's pages, and the metadata's, are VALID or BUSY slots
with a frame; dirty ones are not on the disk yet (being written back counts);
lost ones are dirty pages a region failure took (they have no frame).
"""

import struct
from array import array

from .pool import LINE, MAX_NODES, PoolError, reason
from .poolmem import _area

PCACHE_MAGIC = 0x4548434143504D44       # b"DMPCACHE"
PCACHE_VERSION = 2
PCACHE_WAYS = 8
PCACHE_MAX_SETS = 1 << 24
PCACHE_NLOCKS = 256                     # the file system's leases, a line each
PCACHE_NOPENS = 1024                    # open-file table entries, 16 bytes each
PCACHE_HDR_FMT = struct.Struct("<QIIQQQQQQ")     # struct pcache_hdr
STATS_FMT = struct.Struct("<14Q16x")            # struct pcache_stats
STATS = ("attaches", "hits", "misses", "fills", "fill_waits", "evictions", "writebacks",
         "lost", "disk_reads", "disk_read_bytes", "disk_writes", "disk_write_bytes",
         "disk_flushes", "disk_errors")
TAG_BITS = 54
DIRTY, LOST = 1 << 61, 1 << 60
FRAME_PAGE = 1 << 63
PPN_MASK = (1 << 40) - 1
STATES = ("free", "filling", "valid", "busy")
assert PCACHE_HDR_FMT.size == LINE and STATS_FMT.size == 2 * LINE


def area_size(nsets):
    """pcache_area_size(): 0 for an nsets the cache cannot have."""
    if not 0 < nsets <= PCACHE_MAX_SETS or nsets & (nsets - 1):
        return 0
    return stats_off(nsets) + MAX_NODES * STATS_FMT.size


def stats_off(nsets):
    """Where the counters table starts, from the area's start."""
    return LINE + 3 * nsets * LINE + PCACHE_NLOCKS * LINE + PCACHE_NOPENS * 16


def slot_sound(w, max_nodes):
    """Is w a slot word pcache.c writes? (slot_sound() in poolcheck.c)"""
    state, owner, flags = w >> 62, (w >> TAG_BITS) & 63, w & (DIRTY | LOST)
    if state == 0:
        return w == 0
    if state == 1:
        return not flags and owner < max_nodes
    if state == 3:
        return owner < max_nodes
    return owner == 0


def frame_sound(f, npages):
    return not f or (f & FRAME_PAGE and not f & ~(FRAME_PAGE | PPN_MASK) and
                     (f & PPN_MASK) < npages)


def read_pcache(f, p):
    """(info, problems): the cache's header and what its slots hold."""
    if p.pcache_size < PCACHE_HDR_FMT.size:
        return None, [reason("pcache_small", p.pcache_size)]
    try:
        raw = _area(f, p, p.pcache_off, PCACHE_HDR_FMT.size, "the page cache header")
    except PoolError as e:
        return None, [str(e)]
    magic, version, nsets, slots_off, frames_off, pins_off, locks_off, opens_off, \
        st_off = PCACHE_HDR_FMT.unpack(raw)
    if magic != PCACHE_MAGIC:
        return None, [reason("pcache_magic", magic, PCACHE_MAGIC)]
    if version != PCACHE_VERSION:
        return None, [reason("pcache_version", version, PCACHE_VERSION)]
    lines = p.pcache_nsets
    want = dict(nsets=lines, slots_off=LINE, frames_off=LINE + lines * LINE,
                pins_off=LINE + 2 * lines * LINE, locks_off=LINE + 3 * lines * LINE,
                opens_off=LINE + 3 * lines * LINE + PCACHE_NLOCKS * LINE,
                stats_off=stats_off(lines))
    have = dict(nsets=nsets, slots_off=slots_off, frames_off=frames_off, pins_off=pins_off,
                locks_off=locks_off, opens_off=opens_off, stats_off=st_off)
    bad = ["%s %d (want %d)" % (k, have[k], v) for k, v in want.items() if have[k] != v]
    if not bad and not area_size(lines):
        bad.append("nsets %d is not a power of two in 1..%d" % (lines, PCACHE_MAX_SETS))
    if not bad and area_size(lines) > p.pcache_size:
        bad.append("tables end at +0x%x, past the area's %d bytes"
                   % (area_size(lines), p.pcache_size))
    if bad:
        return None, [reason("pcache_header", ", ".join(bad))]
    n = lines * PCACHE_WAYS
    try:
        words = [array("Q"), array("Q"), array("Q")]
        for a, off, what in zip(words, (slots_off, frames_off, pins_off),
                                ("slot words", "frame words", "pin words")):
            a.frombytes(_area(f, p, p.pcache_off + off, n * 8, "the page cache's " + what))
        table = _area(f, p, p.pcache_off + st_off, MAX_NODES * STATS_FMT.size,
                      "the page cache's counters")
    except PoolError as e:
        return None, [str(e)]
    slots, frames, pins = words
    info = {"nsets": lines, "slots": n, "pages": 0, "dirty": 0, "lost": 0, "pinned": 0,
            "states": dict.fromkeys(STATES, 0), "metadata": 0, "metadata_dirty": 0,
            "files": [], "nodes": [], "pins_by_node": {}}
    files = {}
    bad_slots = [(i, w) for i, w in enumerate(slots) if not slot_sound(w, p.max_nodes)]
    bad_frames = sum(not frame_sound(x, p.npages) for x in frames)
    for w, fr, pin in zip(slots, frames, pins):
        state, page = w >> 62, bool(fr & FRAME_PAGE)
        info["states"][STATES[state]] += 1
        info["pages"] += page
        info["pinned"] += bool(pin)
        for node in range(64):
            if pin >> node & 1:
                info["pins_by_node"][node] = info["pins_by_node"].get(node, 0) + 1
        if state < 2:                   # free, or not read yet
            continue
        lost = state == 2 and bool(w & LOST)
        dirty = page and bool(w & DIRTY or state == 3 and w & LOST)    # or writing back
        info["dirty"] += dirty
        info["lost"] += lost
        ino = (w & ((1 << TAG_BITS) - 1)) >> 32
        if ino:
            c = files.setdefault(ino, {"ino": ino, "pages": 0, "dirty": 0, "lost": 0,
                                       "path": None})
            c["pages"] += page
            c["dirty"] += dirty
            c["lost"] += lost
        else:
            info["metadata"] += page
            info["metadata_dirty"] += dirty
    info["files"] = [files[i] for i in sorted(files)]
    for node in range(MAX_NODES):
        c = dict(zip(STATS, STATS_FMT.unpack_from(table, node * STATS_FMT.size)))
        if c["attaches"]:
            info["nodes"].append(dict(node=node, pins=info["pins_by_node"].get(node, 0), **c))
    problems = []
    if bad_slots:
        problems.append(reason("pcache_slot", len(bad_slots), *bad_slots[0]))
    if bad_frames:
        problems.append(reason("pcache_frame", bad_frames, max(p.npages - 1, 0)))
    return info, problems
