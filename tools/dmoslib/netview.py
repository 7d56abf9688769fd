"""The cluster IP's port table, read from the host (read-only): `dmos net`.

net/porttab.h is the contract. The table sits at the superblock's port_off:

  header   @0 u64 magic "DMPORTTB"  @8 u32 version (1)  @12 u32 vip (a<<24|b<<16|c<<8|d)
           @16 u8 mac[6] (the cluster MAC)  @22 u16 nbuckets  @24 u32 nents
           @28 u32 nsvcs  @32 u64 changes  @64 u64 member[64] (0, or the epoch
           of node n's incarnation that takes part: joined, link up)
  entries  nents x 32: @0 u64 epoch  @8 i32 pid  @12 u16 port  @14 u8 proto
           @15 u8 node  @16 u32 state (0 free, 1 listening)
  services nsvcs x 1088: @0 u32 key (proto << 16 | port, 0 free)  @4 u32 nodes
           @8 u64 builds  @64 u8 owner[nbuckets] (node id, 0xff nobody)

read_ports() returns what `dmos net` and `dmos pool` show (the VIP, its MAC,
the members and the leader, every listener with node, pid and epoch and
whether it counts, each service's buckets per node) and the problems by the
invariants port_magic, port_header and port_entry of pool.INVARIANTS, as
check_ports() in kernel/cluster/poolcheck.c finds them. describe() is the
text of `dmos net`.
"""

import struct

from .pool import MAX_NODES, PORT_ENT_BYTES, PORT_HDR_BYTES, PORT_SVC_BYTES, PoolError, reason

PORTTAB_MAGIC = 0x425454524F504D44          # b"DMPORTTB" as a little-endian u64
PORTTAB_VERSION = 1
PORTTAB_BUCKETS = 1021
PORTTAB_MAX_ENTS = 4096
PORTTAB_MAX_SVCS = 1024
NONE = 0xFF
HDR_FMT = struct.Struct("<QII6sHIIQ24x")     # struct porttab_hdr up to member[]
ENT_FMT = struct.Struct("<QiHBBI12x")        # struct porttab_ent
SVC_FMT = struct.Struct("<IIQ48x")           # struct porttab_svc up to owner[]
PROTOS = {6: "tcp", 17: "udp"}
assert HDR_FMT.size == 64 and ENT_FMT.size == PORT_ENT_BYTES and SVC_FMT.size == 64


def addr(v):
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


def mac_text(m):
    return ":".join("%02x" % b for b in m)


def _want(parts, name, have, want):
    if have != want:
        parts.append("%s %d (want %d)" % (name, have, want))


def read_ports(f, p):
    """(info, problems) of the port table of Pool p on PoolFile f; info is None
    when the table is unreadable or damaged in its header."""
    size = PORT_HDR_BYTES + p.nports * PORT_ENT_BYTES + p.nsvcs * PORT_SVC_BYTES
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
        key, nodes, builds = SVC_FMT.unpack_from(raw, off)
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
            "unowned": owner.count(NONE)})
    info["services"].sort(key=lambda s: (s["proto"], s["port"]))
    problems = []
    if bad or owners_bad:
        problems.append(reason("port_entry", bad, owners_bad, *(first or (0, 0, 0, 0, 0, 0))))
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


def bucket(addr_text, port):
    """porttab_bucket() of net/porttab.h: the bucket of client addr:port."""
    a = [int(x) for x in addr_text.split(".")]
    x = (a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) << 16 | port
    m = (1 << 64) - 1
    x ^= x >> 33
    x = x * 0xFF51AFD7ED558CCD & m
    x ^= x >> 33
    x = x * 0xC4CEB9FE1A85EC53 & m
    x ^= x >> 33
    return x % PORTTAB_BUCKETS


def net_report(f, p):
    """The report `dmos net --json` prints: the port table, or why there is none."""
    if not p.formatted:
        return {"formatted": False, "ports": None, "problems": []}
    info, problems = read_ports(f, p)
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
    if not t["services"]:
        out.append("no port of the vip is listened on")
    for s in t["services"]:
        ls = [x for x in t["listeners"] if x["proto"] == s["proto"] and x["port"] == s["port"]]
        out.append("%s %d: %d listener%s on %d node%s, buckets %s%s" % (
            s["proto"], s["port"], len(ls), "" if len(ls) == 1 else "s", s["nodes"],
            "" if s["nodes"] == 1 else "s",
            ", ".join("node %d %d" % (n, c) for n, c in s["buckets"].items()) or "nobody's",
            ", %d unowned" % s["unowned"] if s["unowned"] and s["buckets"] else ""))
        for x in ls:
            out.append("  node %d pid %d epoch %d%s" % (
                x["node"], x["pid"], x["epoch"], "" if x["counts"] else
                " (does not count: its node withdrew or restarted)"))
    return out + ["DAMAGED: " + w for w in rep["problems"]]
