"""The pool's memory bookkeeping, read from the host: translation, regions, allocator.

Mirrors mm/xlate.h + mm/xlate.c (the translation table and region table)
and mm/palloc.h + mm/palloc.c (chunk owners, bitmaps, page records); every
constant keeps its C name. Readers take an open pool.PoolFile and its
pool.Pool and return (info, problems) like poolctl.py. read_palloc() also
does what palloc_stats() and palloc_check() do in the kernel, and, given
the translation, counts the pages in use per region, node and process.

  translation @xlate_off: struct xlate_hdr (128 bytes; u64 failures @72,
    regions failed since format), then nblocks u32 entries (device block |
    XLATE_MOVING), then at regions_off one struct xlate_region (64 bytes)
    per region: u32 state, pad, u64 moves_out, pages_out, lost_optional,
    lost_vital, killed, failed_seq (the failures count its failure made).
  allocator @palloc_off: struct palloc_hdr (64 bytes), owners (u32 per chunk:
    0 or node + 1) at owners_off, bitmaps (words u64 per chunk, bit set =
    taken; padding bits past a short last chunk stay set) at bmp_off, page
    records (u64 per page: u16 node + 1 | u16 flags << 16 | u32 pid << 32;
    0 = free) at rec_off.
"""

import struct
from array import array

from .pool import LINE, PoolError, reason

# mm/xlate.h, mm/xlate.c
XLATE_MAGIC = 0x4554414C534D4D44            # "DMMSLATE"
XLATE_VERSION = 2                           # 2: region failures
XLATE_MOVING = 0x80000000
XLATE_HDR_FMT = struct.Struct("<QIIQIIQQQQQQ48x")   # struct xlate_hdr
XLATE_REGION_FMT = struct.Struct("<IIQQQQQQ8x")     # struct xlate_region
XLATE_FAILURES_OFF = 72                     # offsetof(struct xlate_hdr, failures)
XLATE_FAILED_SEQ_OFF = 48                   # offsetof(struct xlate_region, failed_seq)
REGION_STATES = {0: "online", 1: "draining", 2: "offline", 3: "failed"}
XLATE_FAILED = 3
REGION_COUNTS = ("moves_out", "pages_out", "lost_optional", "lost_vital", "killed",
                 "failed_seq")

# mm/palloc.h, mm/palloc.c
PALLOC_MAGIC = 0x434F4C4C4150444D           # "MDPALLOC"
PALLOC_VERSION = 2                          # 2: the zero bits after the records
PALLOC_MAX_NODES = 64
PALLOC_MAX_CHUNK = 65536
PALLOC_F_RESERVED = 1
PALLOC_HDR_FMT = struct.Struct("<QIIQIIIIQQQ")      # struct palloc_hdr
MOVING_SHOWN = 16                           # moving blocks listed by number
assert XLATE_HDR_FMT.size == 2 * LINE and XLATE_REGION_FMT.size == LINE
assert PALLOC_HDR_FMT.size == LINE and array("I").itemsize == 4 and array("Q").itemsize == 8

_MOVING_BIT = bytes(1 if b & 0x80 else 0 for b in range(256))
_CLEAR_BIT = bytes(b & 0x7F for b in range(256))


def _round_up(x, a):
    return (x + a - 1) // a * a


def _area(f, p, off, size, what):
    if off + size > p.limit:
        raise PoolError("%s at 0x%x..0x%x is past the end of the pool (0x%x)"
                        % (what, off, off + size, p.limit))
    return f.read(off, size, what)


def _u32s(raw):
    a = array("I")
    a.frombytes(raw)
    return a


class Xlate:
    """The translation table as read: device blocks (XLATE_MOVING cleared), regions."""

    def __init__(self, hdr, entries, regions):
        self.hdr, self.entries, self.regions = hdr, entries, regions
        self.gshift, self.region_pages = hdr["gshift"], hdr["region_pages"]

    def region_of_page(self, ppn):
        """Region of the device frame backing pool page ppn."""
        g = self.gshift
        dfn = (self.entries[ppn >> g] << g) | (ppn & ((1 << g) - 1))
        return dfn // self.region_pages


def read_xlate(f, p):
    """(info, problems, Xlate or None)."""
    if p.xlate_size < XLATE_HDR_FMT.size:
        return None, [reason("xlate_small", p.xlate_size)], None
    try:
        raw = _area(f, p, p.xlate_off, XLATE_HDR_FMT.size, "the translation header")
    except PoolError as e:
        return None, [str(e)], None
    names = ("magic", "version", "gshift", "npages", "region_pages", "nregions",
             "nblocks", "entries_off", "regions_off", "moves", "pages_moved", "failures")
    h = dict(zip(names, XLATE_HDR_FMT.unpack(raw)))
    if h["magic"] != XLATE_MAGIC:
        return None, [reason("xlate_magic", h["magic"], XLATE_MAGIC)], None
    if h["version"] != XLATE_VERSION:
        return None, [reason("xlate_version", h["version"], XLATE_VERSION)], None
    g = h["gshift"]
    want = dict(gshift=p.gshift, npages=p.npages, region_pages=p.region_pages,
                nregions=p.nregions, nblocks=p.npages >> p.gshift,
                entries_off=XLATE_HDR_FMT.size)
    want["regions_off"] = _round_up(want["entries_off"] + want["nblocks"] * 4, LINE)
    bad = ["%s %d (want %d)" % (k, h[k], v) for k, v in want.items() if h[k] != v]
    end = h["regions_off"] + h["nregions"] * LINE
    if not bad and end > p.xlate_size:
        bad.append("tables end at +0x%x, past the area's %d bytes" % (end, p.xlate_size))
    if bad:
        return None, [reason("xlate_header", ", ".join(bad))], None
    try:
        table = _area(f, p, p.xlate_off + h["entries_off"], h["nblocks"] * 4,
                      "the translation table")
        rraw = _area(f, p, p.xlate_off + h["regions_off"], h["nregions"] * LINE,
                     "the region table")
    except PoolError as e:
        return None, [str(e)], None
    problems = []
    top = table[3::4]                            # the byte holding XLATE_MOVING
    flags = top.translate(_MOVING_BIT)
    moving = flags.count(1)
    moving_list, i = [], flags.find(1)
    while i >= 0 and len(moving_list) < MOVING_SHOWN:
        moving_list.append(i)
        i = flags.find(1, i + 1)
    plain = bytearray(table)
    plain[3::4] = top.translate(_CLEAR_BIT)
    blocks = _u32s(bytes(plain))
    ok = not blocks or max(blocks) < h["nblocks"]
    if not ok:
        problems.append(reason("xlate_entry", sum(1 for b in blocks if b >= h["nblocks"]),
                               h["nblocks"] - 1))
    remapped = _remapped(plain, blocks) if ok else None
    regions = []
    for r in range(h["nregions"]):
        st, _, *counts = XLATE_REGION_FMT.unpack_from(rraw, r * LINE)
        if st not in REGION_STATES:
            problems.append(reason("region_state", r, st))
        frames = min(h["region_pages"], h["npages"] - r * h["region_pages"])
        regions.append(dict({"region": r, "state": REGION_STATES.get(st, "unknown(%d)" % st),
                             "frames": frames}, **dict(zip(REGION_COUNTS, counts))))
    G = 1 << g
    info = {"entries": h["nblocks"], "entry_bytes": 4, "table_bytes": h["nblocks"] * 4,
            "block_pages": G, "block_bytes": G * 4096, "moves": h["moves"],
            "pages_moved": h["pages_moved"], "failures": h["failures"], "moving": moving,
            "moving_blocks": moving_list, "remapped": remapped, "regions": regions}
    return info, problems, (Xlate(h, blocks, regions) if ok else None)


def _remapped(plain, blocks):
    """Entries that are not the identity (block b on device block b)."""
    ident = array("I", range(len(blocks))).tobytes()
    n, step = 0, 4096
    for s in range(0, len(plain), step):
        if plain[s:s + step] != ident[s:s + step]:
            n += sum(1 for i in range(s // 4, min(len(blocks), (s + step) // 4))
                     if blocks[i] != i)
    return n


def read_palloc(f, p, xl=None):
    """palloc_stats() + palloc_check(), leaks per the node table, use per region."""
    if p.palloc_size < PALLOC_HDR_FMT.size:
        return None, [reason("palloc_small", p.palloc_size)]
    try:
        raw = _area(f, p, p.palloc_off, PALLOC_HDR_FMT.size, "the allocator header")
    except PoolError as e:
        return None, [str(e)]
    names = ("magic", "version", "chunk_pages", "npages", "max_nodes", "nchunks",
             "words", "pad", "owners_off", "bmp_off", "rec_off")
    h = dict(zip(names, PALLOC_HDR_FMT.unpack(raw)))
    if h["magic"] != PALLOC_MAGIC:
        return None, [reason("palloc_magic", h["magic"], PALLOC_MAGIC)]
    if h["version"] != PALLOC_VERSION:
        return None, [reason("palloc_version", h["version"], PALLOC_VERSION)]
    scp = p.chunk_pages                     # the superblock's: the header must agree
    want = dict(chunk_pages=scp, npages=p.npages, max_nodes=p.max_nodes,
                nchunks=-(-p.npages // scp) if scp else 0,
                words=_round_up(scp, LINE * 8) // 64, owners_off=LINE)
    want["bmp_off"] = _round_up(LINE + want["nchunks"] * 4, LINE)
    want["rec_off"] = want["bmp_off"] + want["nchunks"] * want["words"] * 8
    bad = ["%s %d (want %d)" % (k, h[k], v) for k, v in want.items() if h[k] != v]
    cp = h["chunk_pages"]
    if not bad and not 0 < cp <= PALLOC_MAX_CHUNK:
        bad.append("chunk_pages %d outside 1..%d" % (cp, PALLOC_MAX_CHUNK))
    end = h["rec_off"] + h["npages"] * 8
    if not bad and end > p.palloc_size:
        bad.append("records end at +0x%x, past the area's %d bytes" % (end, p.palloc_size))
    if bad:
        return None, [reason("palloc_header", ", ".join(bad))]
    nchunks, words, npages, maxn = h["nchunks"], h["words"], h["npages"], h["max_nodes"]
    try:
        owners = _u32s(_area(f, p, p.palloc_off + h["owners_off"], nchunks * 4,
                             "the chunk owners"))
        bmp = _area(f, p, p.palloc_off + h["bmp_off"], nchunks * words * 8,
                    "the allocator bitmaps")
        rec = _area(f, p, p.palloc_off + h["rec_off"], npages * 8, "the page records")
    except PoolError as e:
        return None, [str(e)]
    gone = {n.slot for n in p.nodes if n.state in ("absent", "dead")} | set(
        range(len(p.nodes), PALLOC_MAX_NODES))
    used, chunks, leaked = {}, {}, {}
    by_region = [dict() for _ in (xl.regions if xl else ())]
    by_region_pid = [dict() for _ in by_region]
    free = reserved = bad_rec = inconsistent = bad_pad = unowned = stranded = 0
    for o in owners:
        if o == 0:
            unowned += 1
        elif o <= maxn:
            chunks[o - 1] = chunks.get(o - 1, 0) + 1
            stranded += (o - 1) in gone
    bad_owner = sum(1 for o in owners if o > maxn)
    zero_chunk = bytes(cp * 8)
    for c in range(nchunks):
        first = c * cp
        size = min(cp, npages - first)
        bits = int.from_bytes(bmp[c * words * 8:(c + 1) * words * 8], "little")
        pad = words * 64 - size
        if bits >> size != (1 << pad) - 1:
            bad_pad += 1
        taken = bits & ((1 << size) - 1)
        chunk = rec[first * 8:(first + size) * 8]
        mask = 0
        if chunk != zero_chunk[:size * 8]:
            recs = array("Q")
            recs.frombytes(chunk)
            for i, v in enumerate(recs):
                if not v:
                    continue
                mask |= 1 << i
                node = (v & 0xFFFF) - 1
                if v >> 16 & PALLOC_F_RESERVED:
                    reserved += 1
                if not 0 <= node < maxn:
                    bad_rec += 1
                    continue
                used[node] = used.get(node, 0) + 1
                if node in gone:
                    leaked[node] = leaked.get(node, 0) + 1
                if xl:
                    r = xl.region_of_page(first + i)
                    if r < len(by_region):
                        by_region[r][node] = by_region[r].get(node, 0) + 1
                        pids = by_region_pid[r]
                        pids[v >> 32] = pids.get(v >> 32, 0) + 1
        free += size - bin(mask).count("1")
        inconsistent += bin(taken ^ mask).count("1")
    if xl:
        for reg, counts, pids in zip(xl.regions, by_region, by_region_pid):
            reg["used"] = sum(counts.values())
            reg["used_by_node"] = {str(n): counts[n] for n in sorted(counts)}
            reg["used_by_pid"] = {str(n): pids[n] for n in sorted(pids)}
            reg["free"] = reg["frames"] - reg["used"]
    info = {"npages": npages, "chunk_pages": cp, "chunks": nchunks, "free": free,
            "used": npages - free, "reserved": reserved,
            "used_by_node": {str(n): used[n] for n in sorted(used)},
            "chunks_unowned": unowned,
            "chunks_by_node": {str(n): chunks[n] for n in sorted(chunks)},
            "leaked": sum(leaked.values()),
            "leaked_by_node": {str(n): leaked[n] for n in sorted(leaked)},
            "stranded_chunks": stranded, "inconsistent": inconsistent,
            "bad_records": bad_rec}
    problems = []
    if bad_rec:
        problems.append(reason("palloc_record", bad_rec, maxn))
    if bad_owner:
        problems.append(reason("palloc_owner", bad_owner))
    if bad_pad:
        problems.append(reason("palloc_padding", bad_pad))
    return info, problems
