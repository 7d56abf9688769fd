"""Read-only view of a dmos pool: the reader, the superblock, the node table.

The kernels write the pool (kernel/cluster/pool.h is the contract; layout version 5,
little endian); host tools only read it, from a pool file under /dev/shm or a
dax character device, with the nodes running or not. read_pool() returns a
Pool, or raises PoolError with one sentence saying why the file is not a
usable dmos pool. An all-zero superblock is not an error: it is a fresh pool
that no node has formatted yet. A superblock whose areas do not fit together
is read anyway: the problems are listed in Pool.problems (the kernel would
refuse such a pool). What a sound pool is, is one list, INVARIANTS below:
the same as kernel/cluster/poolcheck.h, checked in the same order, with the
same reasons, so a pool the inspector calls damaged is one every node refuses
at attach, printing the reason the inspector gives first. The areas after the node table are read by poolctl.py
(leases, rings) and poolmem.py (translation, regions, allocator);
inspector.py puts everything together for `dmos pool`.

  struct pool_super @0 (the first page; 280 bytes used)
    @0   u64 magic "DMOSPOOL", last     @96  u64 lease_off
    @8   u32 version (5)                @104 u32 nleases, @108 u32 ring_slots
    @12  u32 format_claim (node + 1)    @112 u64 ring_off, @120 u64 ring_size
    @16  u64 pool_size                  @128 u64 xlate_off, @136 u64 xlate_size
    @24  u64 region_size                @144 u64 palloc_off, @152 u64 palloc_size
    @32  u32 max_nodes                  @160 u64 npages (device frames of data)
    @36  u32 expected_nodes             @168 u32 gshift, @172 u32 chunk_pages
    @40  char cluster_id[32]            @176 u32 region_pages, @180 dead_after_ms
    @72  u64 node_table_off             @184 u64 seg_off, @192 u32 nsegs
    @80  u64 data_off                   @196 u32 nfutex, @200 u64 futex_off
    @88  u64 reserved                   @208 u64 proc_off, @216 u32 procs_per_node
    @224 u64 pcache_off, @232 u64 pcache_size, @240 u32 pcache_nsets
    @248 u64 lock_off, @256 u32 nlocks
    @264 u64 port_off, @272 u32 nports, @276 u32 nsvcs
  Areas in pool order: node table, leases, rings, segments (nsegs x 256),
  futexes (nfutex x 32), processes (max_nodes x procs_per_node x 64),
  record locks (a line, then nlocks x 32: fs/locktab.h, poolctl.py),
  port table (a header of 576 bytes, nports x 32, nsvcs x 1088, the claims:
  a line, then POOL_NCLAIM_SETS x 320: net/porttab.h, netview.py), translation, allocator, page cache (fs/pcache.h, poolcache.py), data.
  struct pool_node (64 bytes: one line per slot, max_nodes slots)
    @0  u32 state  @4 u32 node_id  @8 u64 epoch  @16 u64 heartbeat
    @24 u64 local_mem  @32 i32 doorbell (ivshmem peer id, -1: none)
    @36 u32 dead_by (0, or declarer's node id + 1)  @40 u64 reclaimed (pages)
    @48 u64 link_down (0: the node's link to the pool is up; else the fault
        injector, `dmos fail-link`, took it down)  @56 reserved
"""

import mmap
import os
import stat
import struct
from dataclasses import asdict, dataclass, field

POOL_MAGIC = 0x4C4F4F50534F4D44     # b"DMOSPOOL" read as a little-endian u64
POOL_VERSION = 5
PAGE_SIZE = 4096
SUPER_SIZE = PAGE_SIZE              # the superblock's page
MIN_FILE = 8 * 1024                 # superblock plus at least one page
MAX_NODES = 64                      # kernel/param.h
CLUSTER_ID_MAX = 32
LINE = 64                           # areas and leases are cache-line aligned
SUPER_FMT = struct.Struct("<QIIQQII32sQQQ" "QIIQQQQQQQIIII" "QIIQQII" "QQII" "QII"
                          "QII")                                # struct pool_super
NODE_FMT = struct.Struct("<IIQQQiIQQ8x")                        # struct pool_node
NODE_LINK_DOWN_OFF = 48             # offsetof(struct pool_node, link_down)
NODE_SIZE = NODE_FMT.size
NODE_STATES = {0: "absent", 1: "joining", 2: "up", 3: "halted", 4: "dead"}  # enum node_state
SUPER_FIELDS = ("magic", "version", "format_claim", "pool_size", "region_size",
                "max_nodes", "expected_nodes", "cluster_id", "node_table_off",
                "data_off", "reserved", "lease_off", "nleases", "ring_slots", "ring_off",
                "ring_size", "xlate_off", "xlate_size", "palloc_off", "palloc_size",
                "npages", "gshift", "chunk_pages", "region_pages", "dead_after_ms",
                "seg_off", "nsegs", "nfutex", "futex_off", "proc_off", "procs_per_node",
                "pad", "pcache_off", "pcache_size", "pcache_nsets", "pad2",
                "lock_off", "nlocks", "pad3", "port_off", "nports", "nsvcs")
POOL_SEG_BYTES = 256                # kernel/cluster/pool.h: one struct pool_seg (mm/seg.h)
POOL_FUTEX_BYTES = 32               # one futex waiter
PROC_BYTES = 64                     # one struct dm_proc
XLATE_MAX_GSHIFT = 20               # mm/xlate.h: the largest translation block
LOCK_HDR_BYTES = 64                 # fs/locktab.h: the record locks' header line,
LOCK_ENT_BYTES = 32                 # and one entry
LOCKTAB_MAX = 4096                  # the most entries a kernel takes
PORT_HDR_BYTES = 64 + MAX_NODES * 8  # net/porttab.h: the port table's header,
PORT_ENT_BYTES = 32                 # one listener entry,
PORT_SVC_BYTES = 64 + 1024          # one service (a line, then its bucket owners),
PORT_CHDR_BYTES = 64                # the claims' header line,
PORT_WAYS = 8                       # and claim sets: a lease line, then 8 claims of 32
PORT_CLAIM_BYTES = 32
PORT_CSET_BYTES = 64 + PORT_WAYS * PORT_CLAIM_BYTES
POOL_NCLAIM_SETS = 1024             # kernel/cluster/pool.h: the claim sets of a pool


def port_area_size(nents, nsvcs, nsets=POOL_NCLAIM_SETS):
    """porttab_area_size() of net/porttab.h."""
    return (PORT_HDR_BYTES + nents * PORT_ENT_BYTES + nsvcs * PORT_SVC_BYTES
            + PORT_CHDR_BYTES + nsets * PORT_CSET_BYTES)


assert SUPER_FMT.size == 280 and NODE_SIZE == 64    # the C _Static_asserts

# kept for older callers
MAGIC, VERSION, STATES = POOL_MAGIC, POOL_VERSION, NODE_STATES

# kernel/cluster/poolcheck.h POOLCHECK_INVARIANTS: (name, reason format), in the
# order the kernel checks them. The formats are C's: Python's % ignores the l.
INVARIANTS = [
    # the superblock, and where the node table is
    ("magic", 'not a dmos pool (bad magic 0x%016lx, want 0x%016lx "DMOSPOOL")'),
    ("version", "dmos pool format version %u, want version %u"),
    ("pool_size", "damaged pool: the pool is %lu bytes but its superblock says %lu"),
    ("max_nodes", "damaged pool: max_nodes is %u, must be 1..%u"),
    ("node_table", "damaged pool: node table at 0x%lx (%u entries) is outside "
                   "0x%lx..0x%lx or not %u-byte aligned"),
    # the areas after it
    ("no_control", "the superblock has no lease, ring, translation or allocator area "
                   "(formatted by an older kernel?)"),
    ("no_tables", "the superblock has no segment, futex or process area (formatted by "
                  "an older kernel of the same pool version?)"),
    ("lock_count", "the record lock table has %u entries, more than the kernel's largest "
                   "(LOCKTAB_MAX %u)"),
    ("overlap", "%s at 0x%lx..0x%lx runs into %s at 0x%lx"),
    ("align", "%s at 0x%lx is not %u-byte aligned"),
    ("past_end", "%s at 0x%lx..0x%lx is past the end of the pool (0x%lx)"),
    ("gshift", "translation granularity 2^%u pages is more than the kernel's largest "
               "(XLATE_MAX_GSHIFT %u)"),
    ("region_pages", "region_pages %u is not in 1..npages (%lu)"),
    ("chunk_pages", "chunk_pages is 0"),
    # the node table
    ("node_state", "node %u: state %u is none of absent, joining, up, halted, dead"),
    # translation and regions (poolmem.py)
    ("xlate_small", "the translation area is %lu bytes, less than its header"),
    ("xlate_magic", 'translation: bad magic 0x%016lx, want 0x%016lx "DMMSLATE"'),
    ("xlate_version", "translation format version %u, want version %u"),
    ("xlate_header", "translation header disagrees with the superblock: %s"),
    ("xlate_entry", "translation: %lu entries name a device block past the last (%lu)"),
    ("region_state", "region %u: state %u is none of online, draining, offline, failed"),
    # the page allocator (poolmem.py)
    ("palloc_small", "the allocator area is %lu bytes, less than its header"),
    ("palloc_magic", 'allocator: bad magic 0x%016lx, want 0x%016lx "MDPALLOC"'),
    ("palloc_version", "allocator format version %u, want version %u"),
    ("palloc_header", "allocator header disagrees with the superblock: %s"),
    ("palloc_record", "allocator: %lu page records name no node (0 or past max_nodes %u)"),
    ("palloc_owner", "allocator: %lu chunk owners name no node"),
    ("palloc_padding", "allocator: %lu chunks have padding bits cleared (the kernel keeps "
                       "them set)"),
    # the page cache index (poolcache.py)
    ("pcache_small", "the page cache area is %lu bytes, less than its header"),
    ("pcache_magic", 'page cache: bad magic 0x%016lx, want 0x%016lx "DMPCACHE"'),
    ("pcache_version", "page cache format version %u, want version %u"),
    ("pcache_header", "page cache header disagrees with the superblock: %s"),
    ("pcache_slot", "page cache: %lu slot words are none the cache writes (first: slot %lu "
                    "holds 0x%016lx)"),
    ("pcache_frame", "page cache: %lu frame words name no pool page (past the last, %lu, or "
                     "bits outside the page number)"),
    # the message rings (poolctl.py)
    ("ring_small", "the ring area is %lu bytes, less than its header"),
    ("ring_magic", 'ring mesh: bad magic 0x%016lx, want 0x%016lx "RINGMESH"'),
    ("ring_version", "ring mesh format version %u, want version %u"),
    ("ring_geometry", "ring mesh: damaged geometry (%u nodes, %u slots, %u bytes per ring)"),
    ("ring_size", "ring mesh: %u x %u rings of %u bytes need %lu bytes, the superblock "
                  "gives the area %lu"),
    ("ring_slots", "ring mesh has %u slots per ring, the superblock says %u"),
    ("ring_header", "ring %u->%u: header says magic 0x%08x, %u slots, %u->%u"),
    ("ring_counters", "ring %u->%u: sent %lu and received %lu are %ld apart, outside 0..%u"),
    # the leases (poolctl.py)
    ("lease_word", "lease %u holds 0x%016lx, which names no node"),
    ("lease_stray", "%lu non-zero words in the lease area between lease lines (first at "
                    "lease_off+0x%lx): a writer that does not put lease i at "
                    "lease_off + %u*i?"),
    # the record locks (poolctl.py)
    ("lock_entry", "record locks: %lu entries are none the kernel writes (first: entry %lu, "
                   "kind %u, pid %d, range 0x%lx..0x%lx)"),
    # the cluster IP's port table (netview.py)
    ("port_magic", 'port table: bad magic 0x%016lx or version %u, want 0x%016lx "DMPORTTB" '
                   'version %u'),
    ("port_header", "port table header disagrees with the superblock: %s"),
    ("port_entry", "port table: %lu entries and %lu bucket owners are none the kernel writes "
                   "(first entry %lu: state %u, proto %u, port %u, node %u, epoch %lu)"),
    ("port_claim", "port table: %lu claims and %lu claim set leases are none the kernel "
                   "writes (first claim %lu: state %u, owner %u, epoch %lu, key 0x%016lx)"),
]
_REASONS = dict(INVARIANTS)


def reason(name, *args):
    """The reason invariant `name` gives, filled in: what the kernel prints."""
    return _REASONS[name] % args


class PoolError(Exception):
    """The file is not a readable dmos pool; str() says why. reason is the
    invariant's reason when the file breaks one (str() adds the path), else None."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason


def _refuse(path, name, *args, hint=""):
    """PoolError for a pool that breaks invariant `name`: "reason[hint]: path"."""
    r = reason(name, *args)
    return PoolError("%s%s: %s" % (r, hint, path), r)


class PoolFile:
    """A pool file or dax device opened read-only; read(off, n) -> n bytes."""

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise PoolError("cannot open pool %s: %s" % (path, e.strerror)) from None
        st = os.fstat(self.fd)
        self.device = stat.S_ISCHR(st.st_mode)
        self.size = st.st_size if stat.S_ISREG(st.st_mode) else 0   # 0: unknown
        if not (self.device or stat.S_ISREG(st.st_mode)):
            self.close()
            raise PoolError("%s is neither a pool file nor a character device" % path)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def read(self, off, n, what="data"):
        """n bytes at off; PoolError if the file ends before (a damaged pool)."""
        if n <= 0:
            return b""
        if self.size and off + n > self.size:
            raise PoolError("damaged pool: %s at 0x%x..0x%x is past the end of %s "
                            "(0x%x bytes)" % (what, off, off + n, self.path, self.size))
        if not self.device:
            data = os.pread(self.fd, n, off)
        else:                       # dax devices can only be mapped, not read
            base = off - off % mmap.ALLOCATIONGRANULARITY
            try:
                with mmap.mmap(self.fd, n + off - base, mmap.MAP_SHARED, mmap.PROT_READ,
                               offset=base) as m:
                    data = m[off - base:off - base + n]
            except (OSError, ValueError, OverflowError) as e:
                raise PoolError("cannot map %d bytes at 0x%x of %s (%s): %s"
                                % (n, off, self.path, what, e)) from None
        if len(data) < n:
            raise PoolError("damaged pool: %s ends at 0x%x, inside %s at 0x%x..0x%x"
                            % (self.path, off + len(data), what, off, off + n))
        return data


@dataclass
class Node:
    """One struct pool_node."""
    slot: int
    state: str
    node_id: int
    epoch: int
    heartbeat: int
    local_mem: int
    doorbell: int = -1              # ivshmem peer id others ring, -1: polls
    dead_by: int = 0                # 0, or declarer's node id + 1
    reclaimed: int = 0              # pool pages taken back when it died
    link_down: bool = False         # its link to the pool is down (injected)


@dataclass
class Pool:
    """struct pool_super (field names as in C) plus the node table."""
    path: str
    size: int                       # bytes of the file (0 if unknown: a device)
    formatted: bool
    formatting: bool = False        # claimed by a formatter, magic not written yet
    magic: int = 0
    version: int = 0
    format_claim: int = 0           # 0, or formatter's node id + 1
    pool_size: int = 0
    region_size: int = 0
    max_nodes: int = 0
    expected_nodes: int = 0
    cluster_id: str = ""
    node_table_off: int = 0
    data_off: int = 0
    reserved: int = 0
    lease_off: int = 0
    nleases: int = 0
    ring_slots: int = 0
    ring_off: int = 0
    ring_size: int = 0
    xlate_off: int = 0
    xlate_size: int = 0
    palloc_off: int = 0
    palloc_size: int = 0
    npages: int = 0
    gshift: int = 0
    chunk_pages: int = 0
    region_pages: int = 0
    dead_after_ms: int = 0
    seg_off: int = 0
    nsegs: int = 0
    nfutex: int = 0
    futex_off: int = 0
    proc_off: int = 0
    procs_per_node: int = 0
    pad: int = 0
    pcache_off: int = 0
    pcache_size: int = 0
    pcache_nsets: int = 0
    pad2: int = 0
    lock_off: int = 0
    nlocks: int = 0
    pad3: int = 0
    port_off: int = 0
    nports: int = 0
    nsvcs: int = 0
    nodes: list = field(default_factory=list)     # every slot, absent ones too
    warnings: list = field(default_factory=list)  # odd but usable
    problems: list = field(default_factory=list)  # the kernel would refuse this

    def node(self, n):
        """Node table entry for node id n, or None."""
        return self.nodes[n] if 0 <= n < len(self.nodes) else None

    def present(self):
        """The entries of nodes that ever joined (state is not absent)."""
        return [n for n in self.nodes if n.state != "absent"]

    @property
    def limit(self):
        """Bytes that may be read: the file's size, else the superblock's."""
        return self.size or self.pool_size

    @property
    def nregions(self):
        rp = self.region_pages
        return (self.npages + rp - 1) // rp if rp else 0

    def areas(self):
        """[(name, offset, bytes)] of the control areas, in pool order."""
        return [("node table", self.node_table_off, self.max_nodes * NODE_SIZE),
                ("leases", self.lease_off, self.nleases * LINE),
                ("rings", self.ring_off, self.ring_size),
                ("segments", self.seg_off, self.nsegs * POOL_SEG_BYTES),
                ("futexes", self.futex_off, self.nfutex * POOL_FUTEX_BYTES),
                ("processes", self.proc_off, self.max_nodes * self.procs_per_node
                 * PROC_BYTES),
                ("record locks", self.lock_off, LOCK_HDR_BYTES + self.nlocks * LOCK_ENT_BYTES),
                ("port table", self.port_off, port_area_size(self.nports, self.nsvcs)),
                ("translation", self.xlate_off, self.xlate_size),
                ("allocator", self.palloc_off, self.palloc_size),
                ("page cache", self.pcache_off, self.pcache_size),
                ("data", self.data_off, self.npages * PAGE_SIZE)]

    def to_json(self):
        d = asdict(self)
        d["magic"] = "0x%016x" % self.magic
        d["status"] = "formatted" if self.formatted else "unformatted"
        return d


def state_name(value):
    return NODE_STATES.get(value, "unknown(%d)" % value)


def read_pool(path):
    """Parse the superblock and node table of the pool at path (read-only)."""
    with PoolFile(path) as f:
        return parse(f)


def parse(f):
    """read_pool() on an open PoolFile."""
    path, size = f.path, f.size
    if size and size < MIN_FILE:
        raise PoolError("damaged pool: %s is %d bytes, a pool is at least %d KiB"
                        % (path, size, MIN_FILE // 1024))
    raw = f.read(0, SUPER_SIZE, "the superblock")
    if not any(raw):
        return Pool(path=path, size=size, formatted=False)
    v = dict(zip(SUPER_FIELDS, SUPER_FMT.unpack_from(raw)))
    v["cluster_id"] = v["cluster_id"].split(b"\0", 1)[0].decode("ascii", "replace")
    if v["magic"] == 0 and v["format_claim"]:
        return Pool(path=path, size=size, formatted=False, formatting=True,
                    format_claim=v["format_claim"])
    p = Pool(path=path, size=size, formatted=True, **v)
    if p.magic != POOL_MAGIC:
        raise _refuse(path, "magic", p.magic, POOL_MAGIC)
    if p.version != POOL_VERSION:
        raise _refuse(path, "version", p.version, POOL_VERSION)
    if size and p.pool_size > size:
        raise _refuse(path, "pool_size", size, p.pool_size, hint=" (truncated?)")
    if size and p.pool_size < size:             # readable, but no kernel takes it
        p.problems.append(reason("pool_size", size, p.pool_size))
    limit = p.limit
    if not 1 <= p.max_nodes <= MAX_NODES:
        raise _refuse(path, "max_nodes", p.max_nodes, MAX_NODES)
    end = p.node_table_off + p.max_nodes * NODE_SIZE
    if p.node_table_off < SUPER_SIZE or p.node_table_off % LINE or end > limit:
        raise _refuse(path, "node_table", p.node_table_off, p.max_nodes, SUPER_SIZE, limit,
                      LINE)
    if p.expected_nodes > p.max_nodes:
        p.warnings.append("expected_nodes %d exceeds max_nodes %d"
                          % (p.expected_nodes, p.max_nodes))
    p.problems += check_geometry(p)
    table = f.read(p.node_table_off, p.max_nodes * NODE_SIZE, "the node table")
    for i in range(p.max_nodes):
        st, nid, epoch, beat, mem, bell, dead_by, recl, down = NODE_FMT.unpack_from(
            table, i * NODE_SIZE)
        if st not in NODE_STATES:
            p.problems.append(reason("node_state", i, st))
        p.nodes.append(Node(i, state_name(st), nid, epoch, beat, mem, bell, dead_by, recl,
                            down != 0))
    return p


def check_geometry(p):
    """What is wrong with the superblock's layout of the areas: the invariants
    from no_control to chunk_pages, as poolcheck.c checks them, every one broken."""
    if not (p.lease_off or p.ring_off or p.xlate_off or p.palloc_off):
        return [reason("no_control")]
    if not (p.seg_off or p.futex_off or p.proc_off):
        return [reason("no_tables")]
    if p.nlocks > LOCKTAB_MAX:
        return [reason("lock_count", p.nlocks, LOCKTAB_MAX)]
    out = []
    areas = p.areas()
    for (name, off, n), (nxt, noff, _) in zip(areas, areas[1:]):
        if off + n > noff:
            out.append(reason("overlap", name, off, off + n, nxt, noff))
    for name, off, n in areas[1:]:
        if off % LINE:
            out.append(reason("align", name, off, LINE))
        if off + n > p.limit:
            out.append(reason("past_end", name, off, off + n, p.limit))
    if p.gshift > XLATE_MAX_GSHIFT:
        out.append(reason("gshift", p.gshift, XLATE_MAX_GSHIFT))
    if not p.region_pages or p.region_pages > max(p.npages, 1):
        out.append(reason("region_pages", p.region_pages, p.npages))
    if not p.chunk_pages:
        out.append(reason("chunk_pages"))
    return out
