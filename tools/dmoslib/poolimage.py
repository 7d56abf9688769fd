"""Synthetic pool images, laid out byte for byte as a dmos kernel formats them.

The host tools never write a live pool; this module makes pool files for
tests of the readers (and of kernels that must refuse a bad pool): create()
does what format() in kernel/cluster/pool.c does with ring_mesh_format(),
xlate_format(), palloc_format() and pcache_format() (kernel/cluster/ring.c,
mm/xlate.c, mm/palloc.c, fs/pcache.c), and an Image then sets node entries, page records, chunk
owners, leases, ring counters, translation entries, region states, page cache
slots and each node's page cache counters the way running kernels would. The structs and constants are the readers' (pool.py,
poolctl.py, poolmem.py), so a reader and this writer cannot drift apart
silently; a boot test compares this layout with a kernel-formatted pool.
"""

import os
from array import array

from . import poolcache as pcm
from . import poolctl as rc
from . import poolmem as pm
from . import netview as nv
from .pool import (CLUSTER_ID_MAX, LINE, LOCK_ENT_BYTES, LOCK_HDR_BYTES, MAX_NODES, NODE_FMT,
                   NODE_SIZE, NODE_STATES, PAGE_SIZE, POOL_FUTEX_BYTES, POOL_MAGIC,
                   POOL_NCLAIM_SETS, POOL_SEG_BYTES, POOL_VERSION, PORT_CHDR_BYTES,
                   PORT_CLAIM_BYTES, PORT_CSET_BYTES, PORT_ENT_BYTES, PORT_HDR_BYTES,
                   PORT_SVC_BYTES, PROC_BYTES, SUPER_FIELDS, SUPER_FMT, port_area_size)

REGION_SIZE = 32 << 20          # kernel/param.h
DEAD_AFTER_MS = 2000
POOL_NLEASES = 64               # kernel/cluster/pool.h
POOL_RING_SLOTS = 64
POOL_CHUNK_PAGES = 512
POOL_NSEGS = 64
POOL_NFUTEX = 256
POOL_PROCS_PER_NODE = 64
POOL_NLOCKS = 1024
POOL_NPORTS = 512
POOL_NSVCS = 64
VIP = (10 << 24) | (2 << 8) | 100   # net/vip.h VIP_DEFAULT, 10.0.2.100
PORTTAB_CLAIM_TTL_MS = 20000    # net/porttab.h: a claim's life
POOL_PAGES_PER_SET = 16         # kernel/cluster/pool.h: page cache sets per pool page
DATA_ALIGN = 2 << 20            # data_off is 2 MiB aligned
NODE_STATE = {v: k for k, v in NODE_STATES.items()}


def _up(x, a):
    return (x + a - 1) // a * a


def xlate_meta_size(npages, gshift, region_pages):
    nblocks = npages >> gshift
    regions_off = _up(pm.XLATE_HDR_FMT.size + nblocks * 4, LINE)
    return regions_off + -(-npages // region_pages) * LINE


def palloc_layout(npages, chunk_pages=POOL_CHUNK_PAGES):
    """(nchunks, words, bmp_off, rec_off, size) as layout() in mm/palloc.c."""
    nchunks = -(-npages // chunk_pages)
    words = _up(chunk_pages, LINE * 8) // 64
    bmp_off = _up(LINE + nchunks * 4, LINE)
    rec_off = bmp_off + nchunks * words * 8
    zero_off = _up(rec_off + npages * 8, LINE)             # the zero bits (version 2)
    return nchunks, words, bmp_off, rec_off, _up(zero_off + -(-npages // 64) * 8, LINE)


def pcache_sets(npages):
    """pool_pcache_sets() of kernel/cluster/pool.h."""
    n = 1
    while n * 2 <= npages // POOL_PAGES_PER_SET and n * 2 <= pcm.PCACHE_MAX_SETS:
        n *= 2
    return n


def cluster_mac(vip):
    """The cluster MAC net/vip.c derives from a VIP: 02:44:4d and its low three bytes."""
    return bytes([0x02, 0x44, 0x4D, vip >> 16 & 255, vip >> 8 & 255, vip & 255])


def layout(size, nodes, region=REGION_SIZE, gshift=0):
    """The superblock fields format() in kernel/cluster/pool.c writes."""
    sb = dict.fromkeys(SUPER_FIELDS, 0)
    sb["node_table_off"] = PAGE_SIZE
    sb["lease_off"] = PAGE_SIZE + MAX_NODES * NODE_SIZE
    sb["nleases"] = POOL_NLEASES
    sb["ring_off"] = sb["lease_off"] + POOL_NLEASES * 64
    sb["ring_slots"] = POOL_RING_SLOTS
    sb["ring_size"] = rc.ring_mesh_size(nodes, POOL_RING_SLOTS)
    sb["seg_off"] = _up(sb["ring_off"] + sb["ring_size"], 64)
    sb["nsegs"] = POOL_NSEGS
    sb["futex_off"] = sb["seg_off"] + POOL_NSEGS * POOL_SEG_BYTES
    sb["nfutex"] = POOL_NFUTEX
    sb["proc_off"] = _up(sb["futex_off"] + POOL_NFUTEX * POOL_FUTEX_BYTES, 64)
    sb["procs_per_node"] = POOL_PROCS_PER_NODE
    sb["lock_off"] = _up(sb["proc_off"] + MAX_NODES * POOL_PROCS_PER_NODE * PROC_BYTES, 64)
    sb["nlocks"] = POOL_NLOCKS
    sb["port_off"] = _up(sb["lock_off"] + LOCK_HDR_BYTES + POOL_NLOCKS * LOCK_ENT_BYTES, 64)
    sb["nports"], sb["nsvcs"] = POOL_NPORTS, POOL_NSVCS
    sb["xlate_off"] = _up(sb["port_off"] + port_area_size(POOL_NPORTS, POOL_NSVCS), 64)
    whole = size // PAGE_SIZE               # sized for the whole pool first
    sb["xlate_size"] = xlate_meta_size(whole, gshift, min(region, size) // PAGE_SIZE)
    sb["palloc_off"] = _up(sb["xlate_off"] + sb["xlate_size"], 64)
    sb["palloc_size"] = palloc_layout(whole)[4]
    sb["pcache_off"] = _up(sb["palloc_off"] + sb["palloc_size"], 64)
    sb["data_off"] = _up(sb["pcache_off"] + pcm.area_size(pcache_sets(whole)), DATA_ALIGN)
    if sb["data_off"] + (4 << 20) > size:
        raise ValueError("a %d-byte pool is too small for its control state" % size)
    sb["npages"] = (size - sb["data_off"]) // PAGE_SIZE
    sb["pcache_nsets"] = pcache_sets(sb["npages"])     # for the real page count
    sb["pcache_size"] = pcm.area_size(sb["pcache_nsets"])
    sb.update(gshift=gshift, chunk_pages=POOL_CHUNK_PAGES, dead_after_ms=DEAD_AFTER_MS,
              region_pages=min(region // PAGE_SIZE, sb["npages"]))
    sb.update(version=POOL_VERSION, pool_size=size, max_nodes=MAX_NODES,
              expected_nodes=nodes, region_size=sb["region_pages"] * PAGE_SIZE)
    return sb


def create(path, size=64 << 20, nodes=3, cluster="test", claim=1, region=REGION_SIZE,
           gshift=0, **fields):
    """Write a freshly formatted pool image; fields override superblock fields
    (e.g. magic=0x1234, version=7). Returns an Image on it."""
    sb = layout(size, nodes, region, gshift)
    sb.update(magic=POOL_MAGIC, format_claim=claim, cluster_id=cluster.encode()[
        :CLUSTER_ID_MAX - 1])
    with open(path, "wb") as f:
        f.truncate(size)
    img = Image(path, sb)
    img.put(0, SUPER_FMT.pack(*[sb[k] for k in SUPER_FIELDS]))
    img.put(sb["ring_off"], rc.MESH_FMT.pack(rc.RING_MESH_MAGIC, rc.RING_MESH_VERSION,
                                             nodes, POOL_RING_SLOTS,
                                             rc.ring_bytes(POOL_RING_SLOTS)))
    for frm in range(nodes):
        for to in range(nodes):
            img.ring(frm, to)
    npages, rp = sb["npages"], sb["region_pages"]
    nblocks = npages >> gshift
    regions_off = _up(pm.XLATE_HDR_FMT.size + nblocks * 4, LINE)
    img.put(sb["xlate_off"], pm.XLATE_HDR_FMT.pack(
        pm.XLATE_MAGIC, pm.XLATE_VERSION, gshift, npages, rp, -(-npages // rp), nblocks,
        pm.XLATE_HDR_FMT.size, regions_off, 0, 0, 0))
    img.put(sb["xlate_off"] + pm.XLATE_HDR_FMT.size,
            array("I", range(nblocks)).tobytes())            # the identity
    nchunks, words, bmp_off, rec_off, _ = palloc_layout(npages)
    img.put(sb["palloc_off"], pm.PALLOC_HDR_FMT.pack(
        pm.PALLOC_MAGIC, pm.PALLOC_VERSION, POOL_CHUNK_PAGES, npages, MAX_NODES, nchunks,
        words, 0, LINE, bmp_off, rec_off))
    last = npages - (nchunks - 1) * POOL_CHUNK_PAGES    # padding bits stay taken
    pad = ((1 << (words * 64)) - 1) ^ ((1 << last) - 1)
    img.put(sb["palloc_off"] + bmp_off + (nchunks - 1) * words * 8,
            pad.to_bytes(words * 8, "little"))
    ns = sb["pcache_nsets"]
    img.put(sb["pcache_off"], pcm.PCACHE_HDR_FMT.pack(
        pcm.PCACHE_MAGIC, pcm.PCACHE_VERSION, ns, LINE, LINE + ns * LINE,
        LINE + 2 * ns * LINE, LINE + 3 * ns * LINE,
        LINE + 3 * ns * LINE + pcm.PCACHE_NLOCKS * LINE, pcm.stats_off(ns)))
    img.put(sb["port_off"], nv.HDR_FMT.pack(nv.PORTTAB_MAGIC, nv.PORTTAB_VERSION, VIP,
                                            cluster_mac(VIP), nv.PORTTAB_BUCKETS,
                                            POOL_NPORTS, POOL_NSVCS, 0))
    svc0 = sb["port_off"] + PORT_HDR_BYTES + POOL_NPORTS * PORT_ENT_BYTES
    for i in range(POOL_NSVCS):                 # every owner nobody
        img.put(svc0 + i * PORT_SVC_BYTES + 64, bytes([nv.NONE]) * 1024)
    img.put(svc0 + POOL_NSVCS * PORT_SVC_BYTES,
            nv.CHDR_FMT.pack(POOL_NCLAIM_SETS, PORTTAB_CLAIM_TTL_MS, 0, 0, 0, 0))
    img.geom = dict(nblocks=nblocks, regions_off=regions_off, words=words,
                    bmp_off=bmp_off, rec_off=rec_off)
    if fields:
        img.set_super(**fields)
    return img


class Image:
    """A pool image to change the way running kernels would."""

    def __init__(self, path, sb):
        self.path, self.sb, self.geom = path, sb, {}

    def put(self, off, data):
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def get(self, off, n):
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def set_super(self, **fields):
        """Overwrite superblock fields (e.g. a damaged gshift=65), nothing else."""
        self.sb.update(fields)
        self.put(0, SUPER_FMT.pack(*[self.sb[k] for k in SUPER_FIELDS]))

    def u64(self, off, v):
        self.put(off, (v & (1 << 64) - 1).to_bytes(8, "little"))

    def node(self, slot, state="up", epoch=1, heartbeat=100, local_mem=64 << 20,
             doorbell=-1, dead_by=0, reclaimed=0, link_down=0):
        self.put(self.sb["node_table_off"] + slot * NODE_SIZE, NODE_FMT.pack(
            NODE_STATE.get(state, state), slot, epoch, heartbeat, local_mem, doorbell,
            dead_by, reclaimed, int(link_down)))

    def lease(self, i, word, stride=LINE):
        self.u64(self.sb["lease_off"] + i * stride, word)

    def ring(self, frm, to, sent=0, received=0, full=0, magic=rc.RING_MAGIC):
        nodes, rb = self.sb["expected_nodes"], rc.ring_bytes(self.sb["ring_slots"])
        off = self.sb["ring_off"] + rc.MESH_FMT.size + (frm * nodes + to) * rb
        self.put(off, rc.RING_CTR_FMT.pack(sent, full, received, magic,
                                           self.sb["ring_slots"], frm, to))

    def take(self, ppn, node, pid=1, flags=0, bit=True, record=True):
        """Allocate pool page ppn to node, as take() in mm/palloc.c does."""
        g, base = self.geom, self.sb["palloc_off"]
        c, i = divmod(ppn, POOL_CHUNK_PAGES)
        woff = base + g["bmp_off"] + (c * g["words"] + i // 64) * 8
        if bit:
            w = int.from_bytes(self.get(woff, 8), "little") | 1 << (i % 64)
            self.u64(woff, w)
        if record:
            self.u64(base + g["rec_off"] + ppn * 8,
                     (node + 1) | (flags & 0xFFFF) << 16 | pid << 32)

    def own(self, chunk, node):
        self.put(self.sb["palloc_off"] + LINE + chunk * 4,
                 (0 if node is None else node + 1).to_bytes(4, "little"))

    def entry(self, block, dblk, moving=False):
        self.put(self.sb["xlate_off"] + pm.XLATE_HDR_FMT.size + block * 4,
                 (dblk | (pm.XLATE_MOVING if moving else 0)).to_bytes(4, "little"))

    def region(self, r, state="online", **counts):
        """Set region r's line; counts: moves_out, pages_out, lost_optional, ..."""
        st = {v: k for k, v in pm.REGION_STATES.items()}[state]
        self.put(self.sb["xlate_off"] + self.geom["regions_off"] + r * LINE,
                 pm.XLATE_REGION_FMT.pack(st, 0, *[counts.pop(k, 0)
                                                   for k in pm.REGION_COUNTS]))
        assert not counts, counts

    def moves(self, moves, pages_moved):
        self.put(self.sb["xlate_off"] + 56, pm.XLATE_HDR_FMT.pack(
            0, 0, 0, 0, 0, 0, 0, 0, 0, moves, pages_moved, 0)[56:72])

    def failures(self, n):
        self.u64(self.sb["xlate_off"] + pm.XLATE_FAILURES_OFF, n)

    def cache_slot(self, i, state="valid", ino=0, index=0, dirty=False, lost=False,
                   owner=0, ppn=None, pins=0):
        """Slot i of the page cache (set i // 8, way i % 8): its slot, frame and pin
        words as fs/pcache.c leaves them; ppn None: no page (a free or lost slot)."""
        base = self.sb["pcache_off"]
        st = pcm.STATES.index(state)
        w = 0 if st == 0 else (st << 62 | (pcm.DIRTY if dirty else 0) |
                               (pcm.LOST if lost else 0) | owner << pcm.TAG_BITS |
                               ino << 32 | index)
        n = self.sb["pcache_nsets"] * LINE
        self.u64(base + LINE + i * 8, w)
        self.u64(base + LINE + n + i * 8, 0 if ppn is None else pcm.FRAME_PAGE | ppn)
        self.u64(base + LINE + 2 * n + i * 8, pins)

    def counters(self, node, attaches=1, **counts):
        """Node's entry of the page cache's counters table (poolcache.STATS)."""
        vals = dict.fromkeys(pcm.STATS, 0)
        vals.update(attaches=attaches, **counts)
        assert set(vals) == set(pcm.STATS), counts
        self.put(self.sb["pcache_off"] + pcm.stats_off(self.sb["pcache_nsets"]) +
                 node * pcm.STATS_FMT.size, pcm.STATS_FMT.pack(*[vals[k] for k in pcm.STATS]))

    def lock(self, i, ino, start, end, pid, kind):
        """Entry i of the record lock table (poolctl.LOCK_KINDS: 1 read, 2 write
        held; 3, 4 waited for; 0 free), as fs/locktab.c writes it."""
        self.put(self.sb["lock_off"] + LOCK_HDR_BYTES + i * LOCK_ENT_BYTES,
                 rc.LOCK_ENT_FMT.pack(ino, start, end, pid, kind))

    def port_member(self, node, epoch):
        """member[node] of the port table: the epoch that takes part, 0 none."""
        self.put(self.sb["port_off"] + 64 + node * 8, epoch.to_bytes(8, "little"))

    def port_listener(self, i, proto, port, node, pid, epoch, state=1):
        """Entry i of the port table (proto 6 tcp, 17 udp), as net/porttab.c writes it."""
        self.put(self.sb["port_off"] + PORT_HDR_BYTES + i * PORT_ENT_BYTES,
                 nv.ENT_FMT.pack(epoch, pid, port, proto, node, state))

    def port_service(self, i, proto, port, owners, builds=1, turns=0):
        """Service i of the port table: (proto, port) and its bucket owners
        (a list of PORTTAB_BUCKETS node ids or nv.NONE); its mask is theirs."""
        off = (self.sb["port_off"] + PORT_HDR_BYTES + self.sb["nports"] * PORT_ENT_BYTES
               + i * PORT_SVC_BYTES)
        nodes = {o for o in owners if o != nv.NONE}
        self.put(off, nv.SVC_FMT.pack(proto << 16 | port, len(nodes), builds,
                                      sum(1 << n for n in nodes), turns))
        self.put(off + 64, bytes(owners))

    def _claims_off(self):
        return (self.sb["port_off"] + PORT_HDR_BYTES + self.sb["nports"] * PORT_ENT_BYTES
                + self.sb["nsvcs"] * PORT_SVC_BYTES)

    def port_claims(self, taken=0, retaken=0, full=0, busy=0, nsets=POOL_NCLAIM_SETS,
                    ttl_ms=PORTTAB_CLAIM_TTL_MS):
        """The claims' header: geometry and counters."""
        self.put(self._claims_off(), nv.CHDR_FMT.pack(nsets, ttl_ms, taken, retaken, full, busy))

    def port_claim(self, s, way, key, owner, epoch, when, ticket=0, state=1):
        """Claim `way` of claim set s, as porttab_claim writes it (key: the tuple,
        client addr << 32 | client port << 16 | vip port; when: ns since 1970)."""
        self.put(self._claims_off() + PORT_CHDR_BYTES + s * PORT_CSET_BYTES + 64
                 + way * PORT_CLAIM_BYTES,
                 nv.CLAIM_FMT.pack(key, epoch, when, ticket, owner, state, 0))

    def port_claim_lease(self, s, word):
        """The lease word of claim set s (kernel/cluster/lease.h)."""
        self.put(self._claims_off() + PORT_CHDR_BYTES + s * PORT_CSET_BYTES,
                 word.to_bytes(8, "little"))
