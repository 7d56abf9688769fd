"""The pool's leases, message rings and record locks, read from the host (read-only).

Mirrors kernel/cluster/lease.h, kernel/cluster/ring.h (with struct msg from
kernel/cluster/msg.h) and fs/locktab.h; every constant keeps its C name. Each reader takes an open
pool.PoolFile and its parsed pool.Pool and returns (info, problems): info is
a dict ready for JSON (None when the area is unreadable), problems a list of
sentences about damage that a kernel would trip over. Counters are read
while the nodes run, so they are a snapshot, not an atomic whole.

  leases @lease_off: nleases leases, lease i on its own line at lease_off +
    64*i (kernel/cluster/pool.h); each is one u64 word:
      0 free | LEASE_BROKEN (0xffff << 48) | (holder node + 1) << 48 | epoch
  rings @ring_off: struct ring_mesh (64 bytes: u64 magic "RINGMESH", u32
    version, u32 nodes, u32 slots, u32 ring_bytes), then nodes x nodes rings,
    ring from->to at 64 + (from*nodes + to) * ring_bytes; each ring: line 0
    u64 sent, u64 full; line 1 u64 received; line 2 u32 magic "RING", u32
    slots, u16 from, u16 to; from byte 192, slots struct msg of 64 bytes
    (u32 seq, u16 type, u16 from, u32 req_id, u32 flags, u64 args[6]).
  record locks @lock_off: a line (u64 changes), then nlocks entries of 32
    bytes: u64 file (inode), u64 start, u64 end (exclusive; 2^64-1: to the
    end of the file), i32 pid (its node is pid // 1000000), u32 kind (0
    free, 1 read, 2 write: held; 3 read, 4 write: waited for).
"""

import struct

from .pool import LINE, LOCK_ENT_BYTES, LOCK_HDR_BYTES, PoolError, reason

# kernel/cluster/lease.h
LEASE_FREE = 0
LEASE_BROKEN = 0xFFFF << 48
LEASE_MAX_NODE = 0xFFFD
LEASE_EPOCH_MASK = (1 << 48) - 1
LEASE_STRIDE = LINE                 # kernel/cluster/pool.h: one cache line per lease
LEASE_NAMES = {0: "segment table",  # kernel/cluster/pool.h: POOL_LEASE_SEGS,
               1: "record locks"}   # POOL_LEASE_LOCKS

# kernel/cluster/ring.h
RING_MESH_MAGIC = 0x4853454D474E4952        # "RINGMESH"
RING_MESH_VERSION = 1
RING_MAGIC = 0x474E4952                     # "RING"
RING_MIN_SLOTS = 2
RING_MAX_SLOTS = 65536
RING_MAX_NODES = 1024
MESH_FMT = struct.Struct("<QIIII40x")       # struct ring_mesh
RING_CTR_FMT = struct.Struct("<QQ48xQ56xIIHH52x")   # struct ring up to slot[]
RING_HDR = 192                              # offsetof(struct ring, slot)
MSG_FMT = struct.Struct("<IHHII6Q")         # struct msg (kernel/cluster/msg.h)
MSG_SIZE = 64
MSG_TYPES = {0: "none", 1: "ping", 2: "pong", 3: "node_dead", 32: "shootdown",
             33: "shootdown_ack"}           # enum msg_type, as msg_name() says
PENDING_SHOWN = 8                           # in-flight messages listed per ring
assert MESH_FMT.size == 64 and RING_CTR_FMT.size == RING_HDR and MSG_FMT.size == MSG_SIZE

# fs/locktab.h
LOCK_ENT_FMT = struct.Struct("<QQQiI")      # struct locktab_ent
LOCK_KINDS = {1: ("held", "read"), 2: ("held", "write"), 3: ("waiting", "read"),
              4: ("waiting", "write")}      # enum locktab_kind; 0 is free
LOCK_EOF = (1 << 64) - 1                    # VFS_LOCK_EOF
LOCKTAB_PID_STRIDE = 1000000                # pid = node * this + n
assert LOCK_ENT_FMT.size == LOCK_ENT_BYTES


def ring_bytes(slots):
    """Bytes of one ring of `slots` messages, 0 if slots is not allowed."""
    if slots < RING_MIN_SLOTS or slots > RING_MAX_SLOTS or slots & (slots - 1):
        return 0
    return RING_HDR + slots * MSG_SIZE


def ring_mesh_size(nodes, slots):
    rb = ring_bytes(slots)
    if nodes == 0 or nodes > RING_MAX_NODES or rb == 0:
        return 0
    return MESH_FMT.size + nodes * nodes * rb


def _area(f, p, off, size, what):
    """The area's bytes, or raise PoolError naming it."""
    if off + size > p.limit:
        raise PoolError("%s at 0x%x..0x%x is past the end of the pool (0x%x)"
                        % (what, off, off + size, p.limit))
    return f.read(off, size, what)


def _alive(p, node, epoch):
    """kernel/cluster/cluster.c node_alive(): state up, this epoch."""
    e = p.node(node)
    return bool(e) and e.state == "up" and e.epoch == epoch


def read_leases(f, p):
    """Held, broken and free leases; the holder judged by the node table."""
    try:
        raw = _area(f, p, p.lease_off, p.nleases * LEASE_STRIDE, "the lease area")
    except PoolError as e:
        return None, [str(e)]
    info = {"count": p.nleases, "stride": LEASE_STRIDE, "free": 0, "held": [],
            "broken": [], "junk": [], "stray": []}
    for i in range(p.nleases):
        w = int.from_bytes(raw[i * LEASE_STRIDE:i * LEASE_STRIDE + 8], "little")
        node = (w >> 48) - 1
        if w == LEASE_FREE:
            info["free"] += 1
        elif w == LEASE_BROKEN:
            info["broken"].append(i)
        elif 0 <= node <= LEASE_MAX_NODE:
            epoch = w & LEASE_EPOCH_MASK
            info["held"].append({"slot": i, "node": node, "epoch": epoch,
                                 "holder": "live" if _alive(p, node, epoch) else "stale",
                                 "guards": LEASE_NAMES.get(i)})
        else:
            info["junk"].append({"slot": i, "word": "0x%016x" % w})
        for off in range(i * LEASE_STRIDE + 8, (i + 1) * LEASE_STRIDE, 8):
            v = int.from_bytes(raw[off:off + 8], "little")
            if v:
                info["stray"].append({"offset": off, "word": "0x%016x" % v})
    problems = [reason("lease_word", j["slot"], int(j["word"], 16)) for j in info["junk"]]
    if info["stray"]:
        problems.append(reason("lease_stray", len(info["stray"]), info["stray"][0]["offset"],
                               LEASE_STRIDE))
    return info, problems


def read_rings(f, p):
    """Every ring of the mesh: sent, received, in flight, full; damage found."""
    if p.ring_size < MESH_FMT.size:
        return None, [reason("ring_small", p.ring_size)]
    try:
        head = _area(f, p, p.ring_off, MESH_FMT.size, "the ring mesh header")
    except PoolError as e:
        return None, [str(e)]
    magic, version, nodes, slots, rb = MESH_FMT.unpack(head)
    if magic != RING_MESH_MAGIC:
        return None, [reason("ring_magic", magic, RING_MESH_MAGIC)]
    if version != RING_MESH_VERSION:
        return None, [reason("ring_version", version, RING_MESH_VERSION)]
    size = ring_mesh_size(nodes, slots)
    if not size or rb != ring_bytes(slots) or nodes > p.max_nodes:
        return None, [reason("ring_geometry", nodes, slots, rb)]
    if size > p.ring_size:
        return None, [reason("ring_size", nodes, nodes, rb, size, p.ring_size)]
    info = {"nodes": nodes, "slots": slots, "ring_bytes": rb, "mesh_bytes": size,
            "rings": []}
    problems = []
    if slots != p.ring_slots:
        problems.append(reason("ring_slots", slots, p.ring_slots))
    for frm in range(nodes):
        for to in range(nodes):
            off = p.ring_off + MESH_FMT.size + (frm * nodes + to) * rb
            try:
                raw = f.read(off, RING_HDR, "ring %d->%d" % (frm, to))
            except PoolError as e:
                return info, problems + [str(e)]
            sent, full, received, rmagic, rslots, rfrom, rto = RING_CTR_FMT.unpack(raw)
            bad = []
            if rmagic != RING_MAGIC or rslots != slots or (rfrom, rto) != (frm, to):
                bad.append(reason("ring_header", frm, to, rmagic, rslots, rfrom, rto))
            flight = sent - received
            if flight < 0 or flight > slots:
                bad.append(reason("ring_counters", frm, to, sent, received, flight, slots))
            problems += bad
            if frm == to and not (bad or sent or received or full):
                continue            # a node never sends to itself
            r = {"from": frm, "to": to, "sent": sent, "received": received,
                 "in_flight": flight if not bad else None, "full": full, "ok": not bad}
            if not bad and flight:
                r["pending"] = _pending(f, off, slots, received, min(flight, PENDING_SHOWN))
            info["rings"].append(r)
    return info, problems


def _pending(f, ring_off, slots, received, n):
    """Types of the first n messages waiting in a ring ("?" for a slot not ready)."""
    out = []
    for pos in range(received, received + n):
        raw = f.read(ring_off + RING_HDR + (pos % slots) * MSG_SIZE, MSG_SIZE, "a ring slot")
        seq, mtype = MSG_FMT.unpack(raw)[:2]
        ready = seq == (pos + 1) & 0xFFFFFFFF
        out.append(MSG_TYPES.get(mtype, "type%d" % mtype) if ready else "?")
    return out


def read_locks(f, p):
    """The record locks held and waited for, per entry, and the damaged entries."""
    try:
        raw = _area(f, p, p.lock_off, LOCK_HDR_BYTES + p.nlocks * LOCK_ENT_BYTES,
                    "the record lock table")
    except PoolError as e:
        return None, [str(e)]
    info = {"count": p.nlocks, "changes": int.from_bytes(raw[:8], "little"), "free": 0,
            "held": [], "waiting": []}
    bad = []
    for i in range(p.nlocks):
        ino, start, end, pid, kind = LOCK_ENT_FMT.unpack_from(raw, LOCK_HDR_BYTES
                                                              + i * LOCK_ENT_BYTES)
        if kind == 0:
            info["free"] += 1
            continue
        if kind not in LOCK_KINDS or start >= end or pid < 0 \
                or pid // LOCKTAB_PID_STRIDE >= p.max_nodes:
            bad.append((i, kind, pid, start, end))
            continue
        state, typ = LOCK_KINDS[kind]
        info[state].append({"entry": i, "ino": ino, "type": typ, "start": start,
                            "end": None if end == LOCK_EOF else end, "pid": pid,
                            "node": pid // LOCKTAB_PID_STRIDE})
    problems = [reason("lock_entry", len(bad), *bad[0])] if bad else []
    return info, problems
