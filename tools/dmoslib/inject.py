"""The fault injector: fail one region of a pool, as the pool controller
would report a dead DIMM (mm/xlate.h, "Region failure"; xlate_fail_region()
in mm/xlate.c is the same in C). fail_region() first checks everything with
the inspector's readers and changes nothing if the file is not a sound dmos
pool or the region is not one that can fail; then it writes the pool through
a shared mapping, in the protocol's order: the region's state becomes failed
and its failed_seq the header's failures + 1 (aligned 4- and 8-byte stores),
every device frame of the region is overwritten with POISON, and only then
the header's failures count goes up by one, the store the kernels poll for.
"""

import ctypes
import mmap
import os
import re

from . import inspector, poolmem
from .pool import LINE, PAGE_SIZE, PoolError, PoolFile, parse

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
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        raise PoolError("cannot open pool %s for writing: %s" % (path, e.strerror)) from None
    try:
        with mmap.mmap(fd, where["length"], mmap.MAP_SHARED,
                       mmap.PROT_READ | mmap.PROT_WRITE) as m:
            return _fail(m, where)
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
    if not re.fullmatch(r"-?\d+", str(text)):
        raise InjectError("region %r is not a number (the pool has regions 0..%d)"
                          % (str(text), nregions - 1))
    r = int(text)
    if not 0 <= r < nregions:
        raise InjectError("region %d is not in 0..%d (the pool has %d regions)"
                          % (r, nregions - 1, nregions))
    return r


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
