"""Checks of pool files that the tests of the tools (tests/tools) and of
live clusters (tests/cluster) share: the one line of a refusal, the bytes a
region failure must leave, and the inspector's report (`dmos pool`) of a
pool file, in text and JSON, whose numbers must agree (the page cache's
files and counters too).
"""

import hashlib
import json
import re

from conftest import run_dmos
from dmoslib import inject, inspector, poolmem
from dmoslib.pool import LINE, PAGE_SIZE


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(r):
    """The one line of a refusal (exit 1, nothing on stdout)."""
    lines = r.stderr.splitlines()
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("dmos: "), r.stderr
    return lines[0]


def fail(path, region):
    return run_dmos("fail-region", region, "--pool-path", path)


def report(path):
    r = run_dmos("pool", "--pool-path", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def expected_after(before, sb, regions_off, region, seq):
    """The pool bytes the protocol leaves: before, with region failed."""
    want = bytearray(before)
    rp = sb["region_pages"]
    line = sb["xlate_off"] + regions_off + region * LINE
    want[line:line + 4] = poolmem.XLATE_FAILED.to_bytes(4, "little")
    want[line + 48:line + 56] = seq.to_bytes(8, "little")
    hdr = sb["xlate_off"] + poolmem.XLATE_FAILURES_OFF
    want[hdr:hdr + 8] = seq.to_bytes(8, "little")
    first = sb["data_off"] + region * rp * PAGE_SIZE
    n = min(rp, sb["npages"] - region * rp) * PAGE_SIZE
    want[first:first + n] = inject.POISON * (n // len(inject.POISON))
    return bytes(want)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def dmos_pool(path, *args):
    """(CompletedProcess of `dmos pool --pool-path path`, its JSON or None)."""
    r = run_dmos("pool", "--pool-path", path, *args)
    j = run_dmos("pool", "--pool-path", path, "--json", *args)
    assert j.returncode == r.returncode, (r, j)
    return r, (json.loads(j.stdout) if j.stdout else None)


def text_agrees_with_json(text, rep):
    """The numbers of the text are the JSON's (the heartbeat aside: it moves)."""
    rows, section = {}, None
    for line in text.splitlines():
        section = section if line.startswith(" ") else line.split(":", 1)[0]
        if re.match(r"  \d", line):
            rows.setdefault(section, []).append(line.split())
    assert [[str(n["slot"]), n["state"], "down" if n["link_down"] else "up",
             str(n["epoch"]), str(n["doorbell"]) if n["doorbell"] >= 0 else "-"]
            for n in rep["nodes"]] == [r[:4] + r[7:8] for r in rows.get("nodes", [])]
    assert [["%d->%d" % (g["from"], g["to"])] + [str(g[k]) for k in (
        "sent", "received", "in_flight", "full")] for g in rep["rings"]["rings"]] == \
        [r[:5] for r in rows["rings"]]
    assert [[str(g[k]) for k in ("region", "state", "frames", "used", "free")]
            for g in rep["regions"]] == [r[:5] for r in rows["regions"]]
    c = rep["page_cache"]
    if c:
        top = sorted(c["files"], key=lambda f: (-f["pages"], f["ino"]))[:inspector.TOP_FILES]
        assert [[str(f[k]) for k in ("ino", "pages", "dirty", "lost")] for f in top] == \
            [r[:4] for r in rows.get("page cache files", [])]
        assert [[str(n[k]) for k in ("node",) + inspector.COUNTERS] for n in c["nodes"]] == \
            rows.get("page cache counters per node", [])
        assert "page cache: %d sets of 8 slots, %d pages (%d of metadata, %d of %d files), " \
            "%d dirty, %d lost, %d pinned" % (
                c["nsets"], c["pages"], c["metadata"], sum(f["pages"] for f in c["files"]),
                len(c["files"]), c["dirty"], c["lost"], c["pinned"]) in text
    a, x, ls = rep["allocator"], rep["translation"], rep["leases"]
    for want in ("allocator: %d pages, %d free, %d used, %d reserved; %d chunks of %d "
                 "pages, %d unowned; %d leaked, %d inconsistent" % tuple(a[k] for k in (
                     "npages", "free", "used", "reserved", "chunks", "chunk_pages",
                     "chunks_unowned", "leaked", "inconsistent")),
                 "translation: %d entries of %d page" % (x["entries"], x["block_pages"]),
                 "%d moves (%d pages moved)" % (x["moves"], x["pages_moved"]),
                 "leases: %d, %d held, %d broken, %d free" % (
                     ls["count"], len(ls["held"]), len(ls["broken"]), ls["free"])):
        assert want in text, want
