"""`dmos pool`: everything the pool holds, read from the host, like `cxl list`.

inspect() opens a pool file or dax device read-only (the nodes may be
running, or gone) and returns one dict: the superblock, the nodes that ever
joined (state, whether their link to the pool is down, who declared them
dead), the regions (state, pages in use per node and per process, free
frames, and for a failed region what its failure destroyed), the
translation table (with the count of region failures), the allocator (what
palloc_stats and palloc_check say in the kernel, plus pages leaked by dead
or absent nodes), the page cache (its pages, per file and per state, and each
node's counters: lookups, disk reads, evictions, writebacks, losses, pins;
given the cluster's disk image, each file's path), every ring of the message
mesh, the leases, the record locks held and waited for on dmosfs files and
the cluster IP's port table (netview.py; `dmos net` shows it alone)
(the segment, futex and process tables are listed as areas, not decoded).
`--json` prints that dict; describe() turns it into the text `dmos pool`
shows, with the same numbers. A file that is not a pool at all raises
pool.PoolError; damage inside a pool that can still be read lands in
report["problems"] (and `dmos pool` exits 1 after printing).
"""

from . import fsimage, netview, poolcache, poolctl, poolmem
from .pool import PAGE_SIZE, PoolError, PoolFile, parse

AREAS = ("node table", "leases", "rings", "segments", "futexes", "processes",
         "record locks", "port table", "translation", "allocator", "page cache", "data")
TOP_FILES = 20                  # the files the text shows (the JSON has them all)
COUNTERS = ("attaches", "hits", "misses", "fills", "fill_waits", "evictions",
            "writebacks", "lost", "pins", "disk_reads", "disk_read_bytes", "disk_writes",
            "disk_write_bytes", "disk_errors")


def inspect(path, disk=None):
    """The whole report of the pool at path (see the module docstring); disk: the
    cluster's disk image, to name the files the page cache holds pages of."""
    with PoolFile(path) as f:
        p = parse(f)
        rep = {"path": path, "file_size": f.size, "device": f.device,
               "status": "formatted" if p.formatted else
               "formatting" if p.formatting else "unformatted",
               "formatted_by": p.format_claim - 1 if p.format_claim else None,
               "superblock": None, "nodes": [], "regions": None, "translation": None,
               "allocator": None, "page_cache": None, "rings": None, "leases": None,
               "locks": None, "ports": None,
               "warnings": list(p.warnings), "problems": list(p.problems)}
        if not p.formatted:
            return rep
        rep["superblock"] = superblock(p)
        rep["nodes"] = [dict(slot=n.slot, node_id=n.node_id, state=n.state, epoch=n.epoch,
                             heartbeat=n.heartbeat, local_mem=n.local_mem,
                             doorbell=n.doorbell, dead_by=n.dead_by - 1 if n.dead_by else None,
                             reclaimed=n.reclaimed, link_down=n.link_down)
                        for n in p.present()]
        xinfo, probs, xl = poolmem.read_xlate(f, p)
        rep["problems"] += probs
        if xinfo:
            rep["regions"] = xinfo.pop("regions")
            rep["translation"] = xinfo
        for key, reader in (("allocator", lambda: poolmem.read_palloc(f, p, xl)),
                            ("page_cache", lambda: poolcache.read_pcache(f, p)),
                            ("rings", lambda: poolctl.read_rings(f, p)),
                            ("leases", lambda: poolctl.read_leases(f, p)),
                            ("locks", lambda: poolctl.read_locks(f, p)),
                            ("ports", lambda: netview.read_ports(f, p))):
            try:
                rep[key], probs = reader()
            except PoolError as e:      # e.g. a device that cannot be mapped there
                probs = [str(e)]
            rep["problems"] += probs
    if rep["page_cache"]:
        name_files(rep, disk)
    if rep["allocator"] and rep["allocator"]["inconsistent"]:
        rep["warnings"].append("%d pages whose bitmap bit disagrees with their record "
                               "(normal only while nodes allocate, or after a node "
                               "died inside an allocation)"
                               % rep["allocator"]["inconsistent"])
    if rep["allocator"] and rep["allocator"]["leaked"]:
        rep["warnings"].append("%d pages are owned by dead or absent nodes (not taken "
                               "back yet?)" % rep["allocator"]["leaked"])
    return rep


def name_files(rep, disk):
    """Set the path of each file of rep's page cache from the disk image at disk."""
    c = rep["page_cache"]
    c["disk"] = disk
    if not disk or not c["files"]:
        return
    try:
        names = fsimage.paths(disk, [f["ino"] for f in c["files"]])
    except (fsimage.FsImageError, OSError) as e:
        rep["warnings"].append("the cached files have no names: %s" % e)
        return
    for f in c["files"]:
        f["path"] = names.get(f["ino"])


def superblock(p):
    sb = {k: getattr(p, k) for k in (
        "version", "cluster_id", "format_claim", "pool_size", "region_size", "max_nodes",
        "expected_nodes", "node_table_off", "lease_off", "nleases", "ring_off",
        "ring_size", "ring_slots", "xlate_off", "xlate_size", "palloc_off",
        "palloc_size", "data_off", "npages", "gshift", "chunk_pages", "region_pages",
        "dead_after_ms", "seg_off", "nsegs", "futex_off", "nfutex", "proc_off",
        "procs_per_node", "lock_off", "nlocks", "port_off", "nports", "nsvcs",
        "pcache_off", "pcache_size", "pcache_nsets")}
    sb["magic"] = "0x%016x" % p.magic
    sb["regions"] = p.nregions
    sb["granularity"] = PAGE_SIZE << p.gshift if p.gshift < 64 else None   # damaged
    sb["areas"] = [{"name": n, "offset": o, "bytes": b} for n, o, b in p.areas()]
    return sb


def size(n):
    """Bytes as 64 MiB, 1.5 KiB, 192 B ('?' for None)."""
    if n is None:
        return "?"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return ("%d %s" % (n // scale, unit) if n % scale == 0 or n >= 1 << 60
                    else "%.1f %s" % (n / scale, unit))
    return "%d B" % n


def _by_node(d):
    return " ".join("%s:%d" % kv for kv in d.items()) or "-"


def _table(rows, head):
    """Left-aligned columns, two spaces between, indented by two."""
    rows = [head] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def describe(rep):
    """The text of `dmos pool`: the same content as the JSON."""
    where = "%s (%s)" % (rep["path"], "device" if rep["device"] else size(rep["file_size"]))
    if rep["status"] != "formatted":
        return ["pool %s" % where, "unformatted: node %d claimed it and is formatting it "
                "(or died doing so)" % rep["formatted_by"] if rep["status"] == "formatting"
                else "unformatted (no node has booted yet)"]
    sb = rep["superblock"]
    out = ["pool %s" % where, "superblock: version %d, cluster %r, formatted by %s, "
           "%d nodes expected (max %d)" % (sb["version"], sb["cluster_id"], "node %d"
                                           % rep["formatted_by"] if rep["formatted_by"]
                                           is not None else "nobody", sb["expected_nodes"],
                                           sb["max_nodes"]),
           "  size %s: %d pages of data in %d regions of %s, translation granularity %s, "
           "%d-page chunks, dead after %d ms" % (
               size(sb["pool_size"]), sb["npages"], sb["regions"],
               size(sb["region_pages"] * PAGE_SIZE), size(sb["granularity"]),
               sb["chunk_pages"], sb["dead_after_ms"]),
           "  areas: " + ", ".join("%s 0x%x (%s)" % (a["name"], a["offset"], size(a["bytes"]))
                                   for a in sb["areas"])]
    out += _nodes(rep) + _regions(rep) + _xlate(rep) + _palloc(rep) + _pcache(rep)
    out += _rings(rep)
    out += _leases(rep) + _locks(rep) + _ports(rep)
    out += ["warning: " + w for w in rep["warnings"]]
    out += ["DAMAGED: " + w for w in rep["problems"]]
    return out


def _nodes(rep):
    if not rep["nodes"]:
        return ["nodes: none has joined yet"]
    rows = [[n["slot"], n["state"], "down" if n["link_down"] else "up", n["epoch"],
             n["heartbeat"], size(n["local_mem"]), n["doorbell"] if n["doorbell"] >= 0
             else "-", n["dead_by"] if n["dead_by"] is not None else "-", n["reclaimed"]]
            for n in rep["nodes"]]
    down = sum(n["link_down"] for n in rep["nodes"])
    return ["nodes: %d joined%s" % (len(rows), ", %d lost the pool (link down)" % down
                                    if down else "")] + _table(rows, [
        "node", "state", "link", "epoch", "heartbeat", "local", "peer", "dead_by",
        "reclaimed"])


def _top_pids(d, top=3):
    """The processes using most pages: '1000002:2048 0:3 +2'."""
    pids = sorted(d.items(), key=lambda kv: (-kv[1], int(kv[0])))
    more = " +%d" % (len(pids) - top) if len(pids) > top else ""
    return " ".join("%s:%d" % kv for kv in pids[:top]) + more or "-"


def _regions(rep):
    regs = rep["regions"]
    if regs is None:
        return ["regions: unreadable (the translation is damaged)"]
    rows = [[r["region"], r["state"], r["frames"], r.get("used", "?"), r.get("free", "?"),
             _by_node(r.get("used_by_node", {})), _top_pids(r.get("used_by_pid", {})),
             r["moves_out"], r["pages_out"]] for r in regs]
    states = {}
    for r in regs:
        states[r["state"]] = states.get(r["state"], 0) + 1
    out = ["regions: %d (%s), %d failed since format" % (
        len(regs), ", ".join("%d %s" % (v, k) for k, v in states.items()),
        rep["translation"]["failures"])]
    out += _table(rows, ["region", "state", "frames", "used", "free", "used by node",
                         "used by pid", "moves out", "pages out"])
    return out + ["  region %d %s (failure %d): lost %d optional and %d vital pages in "
                  "use; killed %d process%s" % (
                      r["region"], r["state"], r["failed_seq"], r["lost_optional"],
                      r["lost_vital"], r["killed"], "" if r["killed"] == 1 else "es")
                  for r in regs if r["state"] == "failed" or
                  any(r[k] for k in poolmem.REGION_COUNTS[2:])]


def _xlate(rep):
    x = rep["translation"]
    if not x:
        return ["translation: unreadable"]
    moving = ("%d blocks moving" % x["moving"] + (" (%s)" % " ".join(
        map(str, x["moving_blocks"])) if x["moving"] else ""))
    return ["translation: %d entries of %d page%s (%s blocks), %s of table; %d moves "
            "(%d pages moved), %s blocks remapped, %s" % (
                x["entries"], x["block_pages"], "" if x["block_pages"] == 1 else "s",
                size(x["block_bytes"]), size(x["table_bytes"]), x["moves"],
                x["pages_moved"], "?" if x["remapped"] is None else x["remapped"], moving)]


def _palloc(rep):
    a = rep["allocator"]
    if not a:
        return ["allocator: unreadable"]
    nodes = sorted({int(n) for n in list(a["used_by_node"]) + list(a["chunks_by_node"])})
    rows = [[n, a["used_by_node"].get(str(n), 0), a["chunks_by_node"].get(str(n), 0),
             a["leaked_by_node"].get(str(n), 0)] for n in nodes]
    out = ["allocator: %d pages, %d free, %d used, %d reserved; %d chunks of %d pages, "
           "%d unowned; %d leaked, %d inconsistent, %d bad records" % (
               a["npages"], a["free"], a["used"], a["reserved"], a["chunks"],
               a["chunk_pages"], a["chunks_unowned"], a["leaked"], a["inconsistent"],
               a["bad_records"])]
    return out + (_table(rows, ["node", "used", "chunks", "leaked"]) if rows else [])


def _pcache(rep):
    c = rep["page_cache"]
    if not c:
        return ["page cache: unreadable"]
    st = c["states"]
    out = ["page cache: %d sets of 8 slots, %d pages (%d of metadata, %d of %d files), "
           "%d dirty, %d lost, %d pinned; %d filling, %d busy" % (
               c["nsets"], c["pages"], c["metadata"], sum(f["pages"] for f in c["files"]),
               len(c["files"]), c["dirty"], c["lost"], c["pinned"], st["filling"],
               st["busy"])]
    if c["files"]:
        top = sorted(c["files"], key=lambda f: (-f["pages"], f["ino"]))[:TOP_FILES]
        out.append("page cache files: %d%s%s" % (
            len(c["files"]), ", the %d with the most pages" % len(top)
            if len(top) < len(c["files"]) else "",
            ", named as on %s" % c["disk"] if c["disk"] else
            " (give --disk-path IMAGE to name them)"))
        out += _table([[f["ino"], f["pages"], f["dirty"], f["lost"],
                        f["path"] if f["path"] is not None else "?" if c["disk"] else "-"]
                       for f in top], ["inode", "pages", "dirty", "lost", "path"])
    if c["nodes"]:
        out.append("page cache counters per node: since it attached (the disk's: as it "
                   "last published them)")
        out += _table([[n[k] for k in ("node",) + COUNTERS] for n in c["nodes"]], [
            "node", "attaches", "hits", "misses", "fills", "fill waits", "evictions",
            "writebacks", "lost", "pins", "disk reads", "bytes", "disk writes", "bytes",
            "errors"])
    return out


def _rings(rep):
    r = rep["rings"]
    if not r:
        return ["rings: unreadable"]
    rows = [[("%d->%d" % (g["from"], g["to"])), g["sent"], g["received"],
             "?" if g["in_flight"] is None else g["in_flight"], g["full"],
             " ".join(g.get("pending", [])) or ("-" if g["ok"] else "DAMAGED")]
            for g in r["rings"]]
    return ["rings: %d x %d nodes, %d slots of 64 B each, %s" % (
        r["nodes"], r["nodes"], r["slots"], size(r["mesh_bytes"]))] + \
        _table(rows, ["from->to", "sent", "received", "in flight", "full", "waiting"])


def _leases(rep):
    ls = rep["leases"]
    if not ls:
        return ["leases: unreadable"]
    out = ["leases: %d, %d held, %d broken, %d free%s" % (
        ls["count"], len(ls["held"]), len(ls["broken"]), ls["free"],
        ", %d junk" % len(ls["junk"]) if ls["junk"] else "")]
    if ls["held"]:
        out += _table([[h["slot"], h["node"], h["epoch"], h["holder"], h["guards"] or "-"]
                       for h in ls["held"]], ["lease", "holder", "epoch", "holder is",
                                              "guards"])
    if ls["broken"]:
        out.append("  broken (their holder died holding them): "
                   + " ".join(map(str, ls["broken"])))
    return out


def _locks(rep):
    lk = rep["locks"]
    if not lk:
        return ["record locks: unreadable"]
    out = ["record locks: %d entries, %d held, %d waited for, %d free (%d changes)" % (
        lk["count"], len(lk["held"]), len(lk["waiting"]), lk["free"], lk["changes"])]
    rows = [[e["ino"], e["type"], "%d..%s" % (e["start"], "EOF" if e["end"] is None
                                               else e["end"]), e["pid"], e["node"], state]
            for state in ("held", "waiting") for e in lk[state]]
    if rows:
        out += _table(rows, ["inode", "type", "bytes", "pid", "node", "state"])
    return out


def _ports(rep):
    t = rep["ports"]
    if not t:
        return ["port table: unreadable"]
    return ["port table: vip %s (mac %s), %d of %d entries listening, %d services, leader %s "
            "(`dmos net` shows them)" % (
                t["vip"], t["mac"], len(t["listeners"]), t["entries"], len(t["services"]),
                "node %d" % t["leader"] if t["leader"] is not None else "nobody")]
