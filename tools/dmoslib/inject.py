"""The fault injector.

fail_region(): fail one region of a pool, as the pool controller would
report a dead DIMM (mm/xlate.h, "Region failure"; xlate_fail_region() in
mm/xlate.c is the same in C). It first checks everything with the
inspector's readers and changes nothing if the file is not a sound dmos pool
or the region is not one that can fail; then it writes the pool through a
shared mapping, in the protocol's order: the region's state becomes failed
and its failed_seq the header's failures + 1 (aligned 4- and 8-byte stores),
every device frame of the region is overwritten with POISON, and only then
the header's failures count goes up by one, the store the kernels poll for.

fail_link(): a node loses the pool, as when its CXL link goes down: the
fabric sets the link's status register and raises the error interrupt.
Here the status register is link_down in the node's entry of the pool's node
table (kernel/cluster/pool.h, struct pool_node) and the interrupt is an NMI sent
through the node's QMP socket (`inject-nmi`); the kernel's NMI handler reads
its own link_down and from then on treats the pool as gone. The same checks
come first (a sound pool, a node that is up, its link not down yet, its
QEMU running and its QMP socket answering) and nothing changes if one
fails; then one aligned 8-byte store of 1, then the NMI. If the NMI cannot
be sent, link_down is put back to 0.
"""

import ctypes
import mmap
import os
import re
import time

from . import inspector, poolmem, qemu
from .params import DmosError
from .pool import LINE, NODE_LINK_DOWN_OFF, NODE_SIZE, PAGE_SIZE, PoolError, PoolFile, parse

POISON = b"DMOSLOST"            # what a destroyed frame holds, 512 times per page
SLICE_PAGES = 256               # frames overwritten per store of the poison


class InjectError(Exception):
    """The injection was refused and nothing was changed; str() says why."""


def fail_region(path, region):
    """Fail region (an int, or its text) of the pool at path.

    Returns (frames destroyed, the failures count after it = its failed_seq).
    Raises PoolError (not a pool, damaged) or InjectError (bad region).
    """
    where = check(path, region)
    return _write(path, where["length"], lambda m: _fail(m, where))


def _write(path, length, fn):
    """fn(m) on the first length bytes of the pool at path, mapped shared and
    writable; what fn returns."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        raise PoolError("cannot open pool %s for writing: %s" % (path, e.strerror)) from None
    try:
        with mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            return fn(m)
    except (OSError, ValueError) as e:      # a device that cannot be mapped
        raise PoolError("cannot map pool %s: %s" % (path, e)) from None
    finally:
        os.close(fd)


def log_line(region, frames, seq):
    """The injection as launcher.log records it."""
    return "fault: dmos fail-region %d: region %d failed (failure %d), %d device frames " \
        "destroyed" % (region, region, seq, frames)


def check(path, region):
    """Where fail_region() writes, once path and region passed every check."""
    rep = inspector.inspect(path)
    if rep["problems"]:
        raise PoolError("damaged pool %s: %s" % (path, rep["problems"][0]))
    if rep["status"] != "formatted":
        raise PoolError("pool %s is not formatted yet (no node has booted on it)" % path)
    regs = rep["regions"]
    r = region_number(region, len(regs))
    if regs[r]["state"] == "failed":
        raise InjectError("region %d has already failed" % r)
    with PoolFile(path) as f:
        p = parse(f)
        _, probs, xl = poolmem.read_xlate(f, p)
    if not xl:                  # changed under us since the inspection
        raise PoolError("damaged pool %s: %s" % (path, probs[0]))
    return {"region": r, "frames": regs[r]["frames"], "length": p.limit,
            "state_off": p.xlate_off + xl.hdr["regions_off"] + r * LINE,
            "failures_off": p.xlate_off + poolmem.XLATE_FAILURES_OFF,
            "data": p.data_off + r * p.region_pages * PAGE_SIZE}


def region_number(text, nregions):
    """The region a user named: an integer in 0..nregions-1."""
    return _number(text, nregions, "region", "the pool", "regions")


def node_number(text, nodes):
    """The node a user named: an integer in 0..nodes-1."""
    return _number(text, nodes, "node", "the cluster", "nodes")


def _number(text, count, what, whose, many):
    if not re.fullmatch(r"-?\d+", str(text)):
        raise InjectError("%s %r is not a number (%s has %s 0..%d)"
                          % (what, str(text), whose, many, count - 1))
    n = int(text)
    if not 0 <= n < count:
        raise InjectError("%s %d is not in 0..%d (%s has %d %s)"
                          % (what, n, count - 1, whose, count, many))
    return n


def _word(m, off, ctype):
    return ctype.from_buffer(m, off)        # one aligned load or store per .value


def _fail(m, w):
    """Steps 1-3 of the protocol on the mapped pool m."""
    state = w["state_off"]
    if _word(m, state, ctypes.c_uint32).value == poolmem.XLATE_FAILED:
        raise InjectError("region %d has already failed" % w["region"])
    seq = _word(m, w["failures_off"], ctypes.c_uint64).value + 1
    _word(m, state, ctypes.c_uint32).value = poolmem.XLATE_FAILED
    _word(m, state + poolmem.XLATE_FAILED_SEQ_OFF, ctypes.c_uint64).value = seq
    m.flush()
    poison = POISON * (SLICE_PAGES * PAGE_SIZE // len(POISON))
    for first in range(0, w["frames"], SLICE_PAGES):
        n = min(SLICE_PAGES, w["frames"] - first) * PAGE_SIZE
        off = w["data"] + first * PAGE_SIZE
        m[off:off + n] = poison[:n]
    m.flush()
    failures = _word(m, w["failures_off"], ctypes.c_uint64)
    failures.value += 1
    del failures
    m.flush()
    return w["frames"], seq


# --- a node loses the pool -------------------------------------------------------

NODE_UP = 2                     # enum node_state: NODE_UP


def fail_link(run, node):
    """Take the link of node (an int, or its text) of the running cluster run (a
    loaded cluster.Run) to the pool down: link_down = 1 in its node-table entry,
    then an NMI through its QMP socket.

    Returns the host time (time.monotonic()) just after QEMU took the NMI.
    Raises PoolError (not a pool, damaged) or InjectError (bad node, not up,
    link already down, QEMU not running or not answering); nothing changed.
    """
    cfg = run.cfg
    n = node_number(node, cfg["nodes"])
    path = cfg["pool_path"]
    link_check(path, n)
    nd = cfg["node"][n]
    if not (nd.get("pid") and qemu.is_node(nd["pid"], nd.get("start"), run.name, n)):
        raise InjectError("node %d of cluster %s is not running (%s)"
                          % (n, run.name, nd.get("exit") or nd.get("state")))
    sock = qemu.sockets(run.dir, n)[1]
    try:
        q = qemu.QMP(sock)
    except (OSError, ValueError, DmosError) as e:
        raise InjectError("cannot reach node %d's QMP socket %s: %s" % (n, sock, e)) from None
    with q:
        return link_down(path, n, cfg["nodes"], nmi=lambda: q.command("inject-nmi"))


def link_down(path, node, nodes, nmi=None):
    """Store link_down = 1 in node's entry of the pool at path (a cluster of
    nodes nodes), after link_check(); then call nmi() (no NMI if None). If nmi
    raises, link_down goes back to 0 and InjectError says why. Returns the
    host time (time.monotonic()) after the store and the NMI."""
    n = node_number(node, nodes)
    where = link_check(path, n)
    return _write(path, where["length"], lambda m: _link_down(m, where, nmi))


def link_check(path, node):
    """Where link_down() writes, once the pool is sound and node (an int) is up
    in its node table with its link up."""
    rep = inspector.inspect(path)
    if rep["problems"]:
        raise PoolError("damaged pool %s: %s" % (path, rep["problems"][0]))
    if rep["status"] != "formatted":
        raise PoolError("pool %s is not formatted yet (no node has booted on it)" % path)
    with PoolFile(path) as f:
        p = parse(f)
    e = p.node(node)
    if e is None:
        raise InjectError("node %d is not in the pool's node table (%d slots)"
                          % (node, p.max_nodes))
    if e.link_down:
        raise InjectError("node %d's link to the pool is already down" % node)
    if e.state != "up":
        raise InjectError("node %d is not up: the pool's node table says %s%s" % (
            node, e.state, " (declared by node %d)" % (e.dead_by - 1)
            if e.state == "dead" and e.dead_by else ""))
    base = p.node_table_off + node * NODE_SIZE
    return {"node": node, "length": p.limit, "state_off": base,
            "link_off": base + NODE_LINK_DOWN_OFF}


def link_log_line(node, pid=None):
    """The injection as launcher.log records it."""
    return "fault: dmos fail-link %d: node %d lost the pool: link_down set in its " \
        "node-table entry, NMI sent%s" % (node, node, " to qemu pid %d" % pid if pid else "")


def _link_down(m, w, nmi):
    """The store, the NMI, and the undo if the NMI cannot be sent, on the mapped pool m."""
    n = w["node"]
    if _word(m, w["link_off"], ctypes.c_uint64).value:     # changed since the check
        raise InjectError("node %d's link to the pool is already down" % n)
    if _word(m, w["state_off"], ctypes.c_uint32).value != NODE_UP:
        raise InjectError("node %d is not up any more" % n)
    _word(m, w["link_off"], ctypes.c_uint64).value = 1
    m.flush()
    try:
        if nmi:
            nmi()
    except (OSError, ValueError, DmosError) as e:
        _word(m, w["link_off"], ctypes.c_uint64).value = 0
        m.flush()
        raise InjectError("the NMI could not be sent to node %d (%s); its link_down is "
                          "back to 0" % (n, e)) from None
    return time.monotonic()
