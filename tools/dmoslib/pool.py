"""Read-only view of a dmos pool: the superblock and the node table.

The kernels write the pool (layout v1 below, little endian); host tools only
read it, from a pool file under /dev/shm or a dax character device. read_pool()
returns a Pool, or raises PoolError with a message that says why the file is
not a usable dmos pool. An all-zero superblock is not an error: it is a fresh
pool that no node has formatted yet.

  struct pool_super @0 (4096 bytes reserved)   struct pool_node (64 bytes)
    @0  u64 magic "DMOSPOOL"                    @0  u32 state
    @8  u32 version (1)                         @4  u32 node_id
    @12 u32 format_claim (0 or node id + 1)     @8  u64 epoch
    @16 u64 pool_size                           @16 u64 heartbeat
    @24 u64 region_size                         @24 u64 local_mem (bytes)
    @32 u32 max_nodes                           @32 u64 reserved[4]
    @36 u32 expected_nodes
    @40 char cluster_id[32]
    @72 u64 node_table_off
    @80 u64 data_off
    @88 u64 format_heartbeat
"""

import mmap
import os
import stat
import struct
from dataclasses import asdict, dataclass, field

MAGIC = 0x4C4F4F50534F4D44          # b"DMOSPOOL" read as a little-endian u64
VERSION = 1
SUPER_SIZE = 4096
MIN_FILE = 8 * 1024                 # superblock plus at least one page
MAX_NODES = 64
NODE_SIZE = 64
SUPER_FMT = struct.Struct("<QIIQQII32sQQQ")
NODE_FMT = struct.Struct("<IIQQQ32x")
STATES = {0: "absent", 1: "joining", 2: "up", 3: "halted", 4: "dead"}


class PoolError(Exception):
    """The file is not a readable dmos pool; str() says why."""


@dataclass
class Node:
    slot: int
    state: str
    node_id: int
    epoch: int
    heartbeat: int
    local_mem: int


@dataclass
class Pool:
    path: str
    size: int                       # bytes of the file (0 if unknown: a device)
    formatted: bool
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
    format_heartbeat: int = 0
    nodes: list = field(default_factory=list)     # every slot, absent ones too
    warnings: list = field(default_factory=list)

    def node(self, n):
        """Node table entry for node id n, or None."""
        return self.nodes[n] if 0 <= n < len(self.nodes) else None

    def present(self):
        """The entries of nodes that ever joined (state is not absent)."""
        return [n for n in self.nodes if n.state != "absent"]

    def to_json(self):
        d = asdict(self)
        d["magic"] = "0x%016x" % self.magic
        d["status"] = "formatted" if self.formatted else "unformatted"
        return d


def state_name(value):
    return STATES.get(value, "unknown(%d)" % value)


def _read(path):
    """Return (reader, size): reader(off, n) -> bytes; size 0 for devices."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise PoolError("cannot open pool %s: %s" % (path, e.strerror)) from None
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return fd, st.st_size, lambda off, n: os.pread(fd, n, off)
    if not stat.S_ISCHR(st.st_mode):
        os.close(fd)
        raise PoolError("%s is neither a pool file nor a character device" % path)

    def dev_read(off, n):           # dax devices can only be mapped, not read
        base = off - off % mmap.ALLOCATIONGRANULARITY
        try:
            with mmap.mmap(fd, n + off - base, mmap.MAP_SHARED, mmap.PROT_READ,
                           offset=base) as m:
                return m[off - base:off - base + n]
        except (OSError, ValueError) as e:
            raise PoolError("cannot map %d bytes at 0x%x of %s: %s"
                            % (n, off, path, e)) from None
    return fd, 0, dev_read


def read_pool(path):
    """Parse the superblock and node table of the pool at path (read-only)."""
    fd, size, read = _read(path)
    try:
        return _parse(path, size, read)
    finally:
        os.close(fd)


def _parse(path, size, read):
    if size and size < MIN_FILE:
        raise PoolError("damaged pool: %s is %d bytes, a pool is at least %d KiB"
                        % (path, size, MIN_FILE // 1024))
    raw = read(0, SUPER_SIZE)
    if len(raw) < SUPER_SIZE:
        raise PoolError("damaged pool: %s ends inside the superblock" % path)
    if not any(raw):
        return Pool(path=path, size=size, formatted=False)
    f = SUPER_FMT.unpack_from(raw)
    p = Pool(path=path, size=size, formatted=True, magic=f[0], version=f[1],
             format_claim=f[2], pool_size=f[3], region_size=f[4], max_nodes=f[5],
             expected_nodes=f[6],
             cluster_id=f[7].split(b"\0", 1)[0].decode("ascii", "replace"),
             node_table_off=f[8], data_off=f[9], format_heartbeat=f[10])
    if p.magic != MAGIC:
        raise PoolError("not a dmos pool (bad magic 0x%016x, want 0x%016x \"DMOSPOOL\"): %s"
                        % (p.magic, MAGIC, path))
    if p.version != VERSION:
        raise PoolError("dmos pool version %d, this tool knows %d: %s"
                        % (p.version, VERSION, path))
    limit = size or p.pool_size
    if not 1 <= p.max_nodes <= MAX_NODES:
        raise PoolError("damaged pool: max_nodes is %d, must be 1..%d: %s"
                        % (p.max_nodes, MAX_NODES, path))
    end = p.node_table_off + p.max_nodes * NODE_SIZE
    if p.node_table_off < SUPER_SIZE or p.node_table_off % 8 or end > limit:
        raise PoolError("damaged pool: node table at 0x%x (%d entries) is outside "
                        "0x%x..0x%x: %s" % (p.node_table_off, p.max_nodes, SUPER_SIZE,
                                            limit, path))
    if size and p.pool_size != size:
        p.warnings.append("superblock says pool_size %d but the file is %d bytes"
                          % (p.pool_size, size))
    if p.data_off and not end <= p.data_off <= limit:
        p.warnings.append("data_off 0x%x is outside 0x%x..0x%x" % (p.data_off, end, limit))
    if p.expected_nodes > p.max_nodes:
        p.warnings.append("expected_nodes %d exceeds max_nodes %d"
                          % (p.expected_nodes, p.max_nodes))
    table = read(p.node_table_off, p.max_nodes * NODE_SIZE)
    for i in range(p.max_nodes):
        st, nid, epoch, beat, mem = NODE_FMT.unpack_from(table, i * NODE_SIZE)
        p.nodes.append(Node(i, state_name(st), nid, epoch, beat, mem))
    return p


def _mib(n):
    if n % (1 << 20) == 0:
        return "%d MiB" % (n >> 20)
    return "%.1f MiB" % (n / (1 << 20)) if n >= 1 << 20 else "%d bytes" % n


def describe(p):
    """Human-readable lines for `dmos pool`."""
    where = "%s (%s)" % (p.path, _mib(p.size)) if p.size else p.path
    if not p.formatted:
        return ["pool %s" % where, "unformatted (no node has booted yet)"]
    claim = "node %d" % (p.format_claim - 1) if p.format_claim else "unclaimed"
    out = ["pool %s" % where,
           "  version %d, cluster %r, formatted by %s" % (p.version, p.cluster_id, claim),
           "  size %s, regions of %s, nodes expected %d (max %d)"
           % (_mib(p.pool_size), _mib(p.region_size), p.expected_nodes, p.max_nodes),
           "  node table at 0x%x, data at 0x%x" % (p.node_table_off, p.data_off)]
    out += ["  warning: " + w for w in p.warnings]
    present = p.present()
    if not present:
        return out + ["no node has joined yet"]
    out.append("%-5s %-8s %-8s %6s %12s %10s" % ("slot", "state", "node_id", "epoch",
                                                 "heartbeat", "local_mem"))
    for n in present:
        out.append("%-5d %-8s %-8d %6d %12d %10s" % (n.slot, n.state, n.node_id,
                                                    n.epoch, n.heartbeat,
                                                    _mib(n.local_mem)))
    return out
