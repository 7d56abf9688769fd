"""The cluster IP's port table, read from the host (read-only): `dmos net`.

net/porttab.h is the contract. The table sits at the superblock's port_off:

  header   @0 u64 magic "DMPORTTB"  @8 u32 version (2)  @12 u32 vip (a<<24|b<<16|c<<8|d)
           @16 u8 mac[6] (the cluster MAC)  @22 u16 nbuckets  @24 u32 nents
           @28 u32 nsvcs  @32 u64 changes  @64 u64 member[64] (0, or the epoch
           of node n's incarnation that takes part: joined, link up)
  entries  nents x 32: @0 u64 epoch  @8 i32 pid  @12 u16 port  @14 u8 proto
           @15 u8 node  @16 u32 state (0 free, 1 listening)
  services nsvcs x 1088: @0 u32 key (proto << 16 | port, 0 free)  @4 u32 nodes
           @8 u64 builds  @16 u64 mask (bit n: node n)  @24 u64 turns (claims
           handed out)  @64 u8 owner[nbuckets] (node id, 0xff nobody)
  claims   @0 u32 nsets  @4 u32 ttl_ms  @8 u64 taken  @16 u64 retaken  @24 u64 full
           @32 u64 busy; then nsets x 320: @0 u64 lease, then 8 x 32 @64:
           @0 u64 key (client addr << 32 | client port << 16 | vip port)
           @8 u64 epoch  @16 u64 time (ns since 1970)  @24 u32 ticket
           @28 u8 owner  @29 u8 state (0 free, 1 claimed)

read_ports() returns what `dmos net` and `dmos pool` show (the VIP, its MAC,
the members and the leader, every listener with node, pid and epoch and
whether it counts, each service's buckets per node and turns, the claims
live and the claim counters) and the problems by the invariants
port_magic, port_header, port_entry and port_claim of pool.INVARIANTS, as
check_ports() in kernel/cluster/poolcheck.c finds them. describe() is the
text of `dmos net`.
"""

import struct
import time

from .pool import (MAX_NODES, POOL_NCLAIM_SETS, PORT_CHDR_BYTES, PORT_CLAIM_BYTES,
                   PORT_CSET_BYTES, PORT_ENT_BYTES, PORT_HDR_BYTES, PORT_SVC_BYTES, PORT_WAYS,
                   PoolError, port_area_size, reason)

PORTTAB_MAGIC = 0x425454524F504D44          # b"DMPORTTB" as a little-endian u64
PORTTAB_VERSION = 2
PORTTAB_BUCKETS = 1021
PORTTAB_MAX_ENTS = 4096
PORTTAB_MAX_SVCS = 1024
NONE = 0xFF
HDR_FMT = struct.Struct("<QII6sHIIQ24x")     # struct porttab_hdr up to member[]
ENT_FMT = struct.Struct("<QiHBBI12x")        # struct porttab_ent
SVC_FMT = struct.Struct("<IIQQQ32x")         # struct porttab_svc up to owner[]
CHDR_FMT = struct.Struct("<IIQQQQ24x")       # struct porttab_claims
CLAIM_FMT = struct.Struct("<QQQIBBH")        # struct porttab_claim
PROTOS = {6: "tcp", 17: "udp"}
assert HDR_FMT.size == 64 and ENT_FMT.size == PORT_ENT_BYTES and SVC_FMT.size == 64
assert CHDR_FMT.size == PORT_CHDR_BYTES and CLAIM_FMT.size == PORT_CLAIM_BYTES


def addr(v):
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


def mac_text(m):
    return ":".join("%02x" % b for b in m)


def _want(parts, name, have, want):
    if have != want:
        parts.append("%s %d (want %d)" % (name, have, want))


def _alive(p, node, epoch):
    """node_alive() of the kernel: the node is up in that epoch."""
    n = p.node(node)
    return n is not None and n.state == "up" and n.epoch == epoch


def read_ports(f, p, now_ns=None):
    """(info, problems) of the port table of Pool p on PoolFile f; info is None
    when the table is unreadable or damaged in its header. Claims are live as
    of now_ns (the cluster clock: ns since 1970; by default the host's)."""
    size = port_area_size(p.nports, p.nsvcs)
    if not p.port_off or p.port_off + size > p.limit:
        return None, []             # the geometry check says why
    try:
        raw = f.read(p.port_off, size, "the port table")
    except PoolError as e:
        return None, [str(e)]
    magic, version, vip, mac, nbuckets, nents, nsvcs, changes = HDR_FMT.unpack_from(raw)
    if magic != PORTTAB_MAGIC or version != PORTTAB_VERSION:
        return None, [reason("port_magic", magic, version, PORTTAB_MAGIC, PORTTAB_VERSION)]
    parts = []
    _want(parts, "nents", nents, p.nports)
    _want(parts, "nsvcs", nsvcs, p.nsvcs)
    _want(parts, "nbuckets", nbuckets, PORTTAB_BUCKETS)
    if not parts and not (1 <= nents <= PORTTAB_MAX_ENTS and 1 <= nsvcs <= PORTTAB_MAX_SVCS):
        parts.append("%d entries and %d services, outside 1..%d and 1..%d" % (
            nents, nsvcs, PORTTAB_MAX_ENTS, PORTTAB_MAX_SVCS))
    claims0 = PORT_HDR_BYTES + nents * PORT_ENT_BYTES + nsvcs * PORT_SVC_BYTES
    nsets, ttl_ms, taken, retaken, full, busy = CHDR_FMT.unpack_from(raw, claims0)
    if not parts:
        _want(parts, "claim sets", nsets, POOL_NCLAIM_SETS)
        if not ttl_ms:
            parts.append("claims live 0 ms")
    if not parts and (not vip or mac[0] & 3 != 2):
        parts.append("vip 0x%08x, mac %s (want a non-zero address and a locally "
                     "administered unicast MAC)" % (vip, mac_text(mac)))
    if parts:
        return None, [reason("port_header", ", ".join(parts))]
    members = struct.unpack_from("<%dQ" % MAX_NODES, raw, 64)
    info = {"vip": addr(vip), "mac": mac_text(mac), "buckets": nbuckets, "changes": changes,
            "entries": nents, "services_max": nsvcs,
            "members": {n: e for n, e in enumerate(members) if e},
            "leader": next((n for n, e in enumerate(members) if e), None),
            "listeners": [], "services": []}
    bad, first = 0, None
    for i in range(nents):
        epoch, pid, port, proto, node, state = ENT_FMT.unpack_from(
            raw, PORT_HDR_BYTES + i * PORT_ENT_BYTES)
        sound = state == 0 or (state == 1 and proto in PROTOS and port and
                               node < p.max_nodes and epoch)
        if not sound:
            bad += 1
            first = first or (i, state, proto, port, node, epoch)
            continue
        if state == 1:
            info["listeners"].append({
                "entry": i, "proto": PROTOS[proto], "port": port, "node": node, "pid": pid,
                "epoch": epoch, "counts": members[node] == epoch})
    owners_bad = 0
    svc0 = PORT_HDR_BYTES + nents * PORT_ENT_BYTES
    for i in range(nsvcs):
        off = svc0 + i * PORT_SVC_BYTES
        key, nodes, builds, mask, turns = SVC_FMT.unpack_from(raw, off)
        owner = raw[off + 64:off + 64 + PORTTAB_BUCKETS]
        owners_bad += sum(1 for o in owner if o != NONE and o >= p.max_nodes)
        if not key:
            continue
        per = {}
        for o in owner:
            if o != NONE:
                per[o] = per.get(o, 0) + 1
        info["services"].append({
            "proto": PROTOS.get(key >> 16, "proto%d" % (key >> 16)), "port": key & 0xFFFF,
            "nodes": nodes, "builds": builds, "buckets": dict(sorted(per.items())),
            "unowned": owner.count(NONE), "mask": mask, "turns": turns})
    info["services"].sort(key=lambda s: (s["proto"], s["port"]))
    problems = []
    if bad or owners_bad:
        problems.append(reason("port_entry", bad, owners_bad, *(first or (0, 0, 0, 0, 0, 0))))
        return info, problems
    masks = {s["port"]: s["mask"] for s in info["services"] if s["proto"] == "tcp"}
    now = time.time_ns() if now_ns is None else now_ns
    live, claims_bad, leases_bad, first = {}, 0, 0, None
    for i in range(nsets):
        off = claims0 + PORT_CHDR_BYTES + i * PORT_CSET_BYTES
        lease = struct.unpack_from("<Q", raw, off)[0]
        holder = lease >> 48
        leases_bad += lease not in (0, 0xFFFF << 48) and not 1 <= holder <= p.max_nodes
        for w in range(PORT_WAYS):
            key, epoch, when, _, owner, state, _ = CLAIM_FMT.unpack_from(
                raw, off + 64 + w * PORT_CLAIM_BYTES)
            if not (state == 0 or (state == 1 and owner < p.max_nodes and epoch and
                                   key & 0xFFFF)):
                claims_bad += 1
                first = first or (i * PORT_WAYS + w, state, owner, epoch, key)
            elif (state == 1 and abs(now - when) < ttl_ms * 1000000 and
                  members[owner] == epoch and _alive(p, owner, epoch) and
                  masks.get(key & 0xFFFF, 0) >> owner & 1):
                live[owner] = live.get(owner, 0) + 1
    info["claims"] = {"sets": nsets, "ways": PORT_WAYS, "ttl_ms": ttl_ms, "taken": taken,
                      "retaken": retaken, "full": full, "busy": busy,
                      "live": sum(live.values()), "live_by_node": dict(sorted(live.items()))}
    if claims_bad or leases_bad:
        problems.append(reason("port_claim", claims_bad, leases_bad,
                               *(first or (0, 0, 0, 0, 0))))
    return info, problems


def owners(f, p, proto, port):
    """The bucket owners of (proto "tcp"/"udp", port) as a list of node ids (None:
    nobody), or None when nobody listens there: what net/vip.c's filter reads."""
    key = {v: k for k, v in PROTOS.items()}[proto] << 16 | port
    svc0 = p.port_off + PORT_HDR_BYTES + p.nports * PORT_ENT_BYTES
    for i in range(p.nsvcs):
        raw = f.read(svc0 + i * PORT_SVC_BYTES, PORT_SVC_BYTES, "a port table service")
        if SVC_FMT.unpack_from(raw)[0] == key:
            return [None if o == NONE else o for o in raw[64:64 + PORTTAB_BUCKETS]]
    return None


def _addr_word(addr_text):
    a = [int(x) for x in addr_text.split(".")]
    return a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]


def _finalize(x, s1, m1, s2, m2, s3):
    """A 64-bit finalizer, x ^= x >> s1; x *= m1; ...; x ^= x >> s3, as the kernel's."""
    mask = (1 << 64) - 1
    x ^= x >> s1
    x = x * m1 & mask
    x ^= x >> s2
    x = x * m2 & mask
    return x ^ x >> s3


def bucket(addr_text, port):
    """porttab_bucket() of net/porttab.h: the bucket of client addr:port."""
    return _finalize(_addr_word(addr_text) << 16 | port, 33, 0xFF51AFD7ED558CCD, 33,
                     0xC4CEB9FE1A85EC53, 33) % PORTTAB_BUCKETS


def claim_set(addr_text, cport, port, nsets=POOL_NCLAIM_SETS):
    """porttab_cset_of() of net/porttab.c (its mix()): the claim set of a connection."""
    return _finalize(_addr_word(addr_text) << 32 | cport << 16 | port, 31, 0x7FB5D329728EA185,
                     27, 0x81DADEF4BC2DD44D, 33) % nsets


def net_report(f, p, now_ns=None):
    """The report `dmos net --json` prints: the port table, or why there is none."""
    if not p.formatted:
        return {"formatted": False, "ports": None, "problems": []}
    info, problems = read_ports(f, p, now_ns)
    return {"formatted": True, "ports": info, "problems": problems}


def describe(rep, forwards=None):
    """The text of `dmos net`; forwards: the launcher's [(proto, port, host port)]."""
    if not rep["formatted"]:
        return ["the pool is not formatted yet: no node has booted"]
    t = rep["ports"]
    if not t:
        return ["no port table: " + "; ".join(rep["problems"] or ["unreadable"])]
    lead = "node %d" % t["leader"] if t["leader"] is not None else "nobody"
    out = ["vip %s, mac %s: members %s, leader %s (answers ARP and ping); %d buckets a port"
           % (t["vip"], t["mac"], ", ".join("%d (epoch %d)" % (n, e) for n, e in
                                            sorted(t["members"].items())) or "none",
              lead, t["buckets"])]
    for proto, port, host in forwards or ():
        out.append("  %s %d at 127.0.0.1:%d" % (proto, port, host))
    cl = t.get("claims")
    if cl:
        out.append("claims of new tcp connections: %d live of %d (%g s each)%s; %d taken "
                   "(%d void ones again, %d in a full set's oldest way), %d given up busy" % (
                       cl["live"], cl["sets"] * cl["ways"], cl["ttl_ms"] / 1000,
                       "".join(", node %d %d" % nc for nc in cl["live_by_node"].items()),
                       cl["taken"], cl["retaken"], cl["full"], cl["busy"]))
    if not t["services"]:
        out.append("no port of the vip is listened on")
    for s in t["services"]:
        ls = [x for x in t["listeners"] if x["proto"] == s["proto"] and x["port"] == s["port"]]
        out.append("%s %d: %d listener%s on %d node%s, buckets %s%s%s" % (
            s["proto"], s["port"], len(ls), "" if len(ls) == 1 else "s", s["nodes"],
            "" if s["nodes"] == 1 else "s",
            ", ".join("node %d %d" % (n, c) for n, c in s["buckets"].items()) or "nobody's",
            ", %d unowned" % s["unowned"] if s["unowned"] and s["buckets"] else "",
            ", %d turns" % s["turns"] if s["proto"] == "tcp" else ""))
        for x in ls:
            out.append("  node %d pid %d epoch %d%s" % (
                x["node"], x["pid"], x["epoch"], "" if x["counts"] else
                " (does not count: its node withdrew or restarted)"))
    return out + ["DAMAGED: " + w for w in rep["problems"]]
