"""The inspector and the kernel refuse the same damaged pools, for the same reason.

kernel/cluster/poolcheck.h lists the invariants of a sound pool; the kernel
checks them at attach (kernel/cluster/poolcheck.c), the inspector checks the
same list (dmoslib.pool.INVARIANTS, `dmos pool`). Each case of
tests/unit/poolcheck_cases.txt (the cases tests/unit/test_poolcheck.c feeds
the kernel's checker) damages a pool that dmoslib.poolimage formats as a
kernel does; the inspector must refuse it with the reason the case names,
and the kernel's checker, built for the host (build/unit/poolcheck), must
give the very same reason on the very same file. An invariant added to one
list and not the other, or without a case, fails here.
"""

import fnmatch
import os
import re
import subprocess

import pytest

from conftest import REPO
from dmoslib import inspector, poolctl, poolimage
from dmoslib.pool import (INVARIANTS, LINE, PORT_CHDR_BYTES, PORT_ENT_BYTES, PORT_HDR_BYTES,
                          PORT_SVC_BYTES, SUPER_FIELDS, PoolError)

MiB = 1 << 20
CASES = os.path.join(REPO, "tests", "unit", "poolcheck_cases.txt")
CHECKER = os.path.join(REPO, "build", "unit", "poolcheck")
SOUND = dict(size=17 * MiB, nodes=3, cluster="check", region=4 * MiB)  # as in CASES


def read_cases():
    """[(line number, invariant, [change], reason pattern)] of the cases file."""
    out = []
    with open(CASES) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            left, pattern = line.rstrip("\n").split(" |", 1)
            name, *changes = left.split()
            out.append((n, name, changes, pattern.strip()))
    return out


def _u(img, off, n):
    return int.from_bytes(img.get(off, n), "little")


def area(img, name):
    """Where an area of the cases file starts in img (as area() in test_poolcheck.c)."""
    sb = img.sb
    m = re.fullmatch(r"ring(\d+)\.(\d+)", name)
    if m:
        _, _, nodes, _, rb = poolctl.MESH_FMT.unpack(img.get(sb["ring_off"],
                                                             poolctl.MESH_FMT.size))
        return sb["ring_off"] + LINE + (int(m[1]) * nodes + int(m[2])) * rb
    x, pa, pc = sb["xlate_off"], sb["palloc_off"], sb["pcache_off"]
    claims = (sb["port_off"] + PORT_HDR_BYTES + sb["nports"] * PORT_ENT_BYTES
              + sb["nsvcs"] * PORT_SVC_BYTES)
    at = {"node": lambda: sb["node_table_off"], "lease": lambda: sb["lease_off"],
          "mesh": lambda: sb["ring_off"], "xlate": lambda: x,
          "xent": lambda: x + _u(img, x + 40, 8), "xreg": lambda: x + _u(img, x + 48, 8),
          "palloc": lambda: pa, "owner": lambda: pa + _u(img, pa + 40, 8),
          "bmp": lambda: pa + _u(img, pa + 48, 8), "rec": lambda: pa + _u(img, pa + 56, 8),
          "pcache": lambda: pc, "pslot": lambda: pc + _u(img, pc + 16, 8),
          "pframe": lambda: pc + _u(img, pc + 24, 8), "locks": lambda: sb["lock_off"],
          "lent": lambda: sb["lock_off"] + LINE, "ports": lambda: sb["port_off"],
          "pent": lambda: sb["port_off"] + PORT_HDR_BYTES,
          "psvc": lambda: sb["port_off"] + PORT_HDR_BYTES + sb["nports"] * PORT_ENT_BYTES,
          "pclaim": lambda: claims, "pcset": lambda: claims + PORT_CHDR_BYTES}
    return at[name]()


def change(img, ch):
    """Apply one CHANGE of the cases file (sb.FIELD=V, AREA+OFF:u32=V, += and -=)."""
    m = re.fullmatch(r"(sb\.(\w+)|(\w+(?:\.\d+)?)\+(\w+):u(32|64))([+-]?)=(\w+)", ch)
    assert m, ch
    v, sign = int(m[7], 0), {"+": 1, "-": -1, "": 0}[m[6]]
    if m[2]:
        assert m[2] in SUPER_FIELDS, ch
        img.set_super(**{m[2]: img.sb[m[2]] + sign * v if sign else v})
        return
    off, n = area(img, m[3]) + int(m[4], 0), int(m[5]) // 8
    if sign:
        v = _u(img, off, n) + sign * v
    img.put(off, (v % (1 << 8 * n)).to_bytes(n, "little"))


def damaged(path, changes):
    img = poolimage.create(path, SOUND["size"], SOUND["nodes"], SOUND["cluster"],
                           region=SOUND["region"])
    for ch in changes:
        change(img, ch)
    return img


def inspector_says(path):
    """The inspector's first reason for refusing the pool at path, or "ok"."""
    try:
        rep = inspector.inspect(path)
    except PoolError as e:
        assert e.reason, "refused for no invariant: %s" % e
        return e.reason
    return rep["problems"][0] if rep["problems"] else "ok"


@pytest.fixture(scope="module")
def kernel_says():
    """The kernel's checker on a file: (invariant or "ok", reason)."""
    subprocess.run(["make", "-s", "-C", os.path.join(REPO, "tests", "unit"),
                    os.path.relpath(CHECKER, os.path.join(REPO, "tests", "unit"))],
                   check=True, stdout=subprocess.DEVNULL)

    def run(*args):
        r = subprocess.run([CHECKER, *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        return r.stdout

    def says(path):
        name, _, why = run(path).rstrip("\n").partition("\t")
        return name, why
    says.list = lambda: [tuple(line.split("\t", 1)) for line in run("--list").splitlines()]
    return says


def format_regex(fmt):
    """A regex matching what the printf format fmt prints."""
    parts = re.split(r"%[-0-9]*l?[udxs]", fmt)
    return "".join(map(re.escape, parts[:1])) + "".join(".*?" + re.escape(p)
                                                        for p in parts[1:])


def test_one_list_of_invariants(kernel_says):
    assert kernel_says.list() == INVARIANTS
    names = [n for n, _ in INVARIANTS]
    assert len(set(names)) == len(names)
    cased = {name for _, name, _, _ in read_cases()}
    assert set(names) - cased == set(), "invariants without a case in " + CASES
    assert cased - set(names) == {"ok"}, "cases of no invariant"


@pytest.mark.parametrize("line,name,changes,pattern", read_cases(),
                         ids=["%d-%s" % (c[0], c[1]) for c in read_cases()])
def test_both_refuse_for_the_same_reason(tmp_path, kernel_says, line, name, changes, pattern):
    path = damaged(str(tmp_path / "case.pool"), changes).path
    got = inspector_says(path)
    assert kernel_says(path) == (name, got if name != "ok" else "")
    if name == "ok":
        assert got == "ok"
        return
    assert fnmatch.fnmatchcase(got, pattern), (got, pattern)
    assert re.fullmatch(format_regex(dict(INVARIANTS)[name]), got), got


def test_a_busy_pool_is_sound_to_both(tmp_path, kernel_says):
    """Nodes of every state, pages in use, leases held and broken, messages in
    flight, regions draining or failed, blocks moved: no invariant broken."""
    img = poolimage.create(str(tmp_path / "busy.pool"), 64 * MiB, 4, "busy", region=8 * MiB)
    for slot, state in enumerate(("up", "dead", "halted", "joining")):
        img.node(slot, state, epoch=slot + 1)
    for ppn, node, pid in ((0, 0, 5), (1, 0, 5), (600, 1, 9), (9000, 3, 2)):
        img.take(ppn, node, pid)
    img.take(700, 2, 4, bit=False)          # a node died between the two writes
    img.own(0, 0)
    img.own(1, 1)
    img.lease(2, (1 << 48) | 7)
    img.lease(3, poolctl.LEASE_BROKEN)
    img.ring(0, 1, sent=70, received=10, full=2)
    img.ring(3, 2, sent=5, received=5)
    img.region(1, "draining", moves_out=1, pages_out=1)
    img.region(7, "failed", failed_seq=1)
    img.failures(1)
    img.entry(3, 2100)                      # block 3 moved onto device block 2100 ...
    img.entry(2100, 3, moving=True)         # ... whose entry a mover holds
    assert inspector_says(img.path) == "ok"
    assert kernel_says(img.path) == ("ok", "")
