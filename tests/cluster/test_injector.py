"""Tests of the fault injector (`dmos fail-region`, dmoslib.inject).

Bad input is refused with one `dmos: ...` line and exit status 1, and the
pool file keeps every byte: a file that is not a pool, a damaged or
unformatted pool, a region out of range, negative or not a number, a region
that has already failed, a cluster that is not running. A good injection
follows the protocol of mm/xlate.h: the region's state becomes failed, its
failed_seq and the header's failures count go up together, every device
frame of the region (and nothing else: not one byte of its neighbours)
holds the poison, and the inspector shows it. On synthetic pools and (marked
boot) on a live 1-node cluster and the pool image it leaves behind.
"""

import hashlib
import json
import os
import random
import re

import pytest

from conftest import run_dmos, write_pool
from dmoslib import inject, poolimage, poolmem
from dmoslib.pool import LINE, PAGE_SIZE, PoolFile, parse

MiB = 1 << 20


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


def filled_pool(path, region=8 * MiB):
    """A synthetic 64 MiB pool whose every data byte is random."""
    img = poolimage.create(path, 64 * MiB, 2, "inj", region=region)
    size = img.sb["npages"] * PAGE_SIZE
    img.put(img.sb["data_off"], random.Random(5).randbytes(size))
    return img


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


# --- refusals: one line, exit 1, not one byte changed -------------------------

@pytest.mark.parametrize("region,message", [
    ("8", r"region 8 is not in 0\.\.7 \(the pool has 8 regions\)"),
    ("1000000", r"region 1000000 is not in 0\.\.7"),
    ("-1", r"region -1 is not in 0\.\.7"),
    ("x", r"region 'x' is not a number \(the pool has regions 0\.\.7\)"),
    ("1.5", r"region '1\.5' is not a number"),
    ("", r"region '' is not a number"),
    ("0x1", r"region '0x1' is not a number"),
])
def test_bad_regions_are_refused(tmp_path, region, message):
    path = filled_pool(str(tmp_path / "p.pool")).path
    before = digest(path)
    line = refused(fail(path, region))
    assert re.fullmatch("dmos: " + message + ".*", line), line
    assert digest(path) == before
    with pytest.raises(inject.InjectError):
        inject.fail_region(path, region)
    assert digest(path) == before


@pytest.mark.parametrize("kind,message", [
    ("text", r"dmos: damaged pool: .* is 30 bytes, a pool is at least 8 KiB"),
    ("random", r"dmos: not a dmos pool \(bad magic 0x[0-9a-f]{16}"),
    ("zero", r"dmos: pool .* is not formatted yet \(no node has booted on it\)"),
    ("version", r"dmos: dmos pool version 7, this tool knows 2"),
    ("xlate", r"dmos: damaged pool .*: translation version 1, this tool knows 2"),
    ("region state", r"dmos: damaged pool .*: region 3: state 9 is none of"),
])
def test_what_is_not_a_sound_pool_is_refused(tmp_path, kind, message):
    path = str(tmp_path / "bad.pool")
    if kind == "text":
        with open(path, "w") as f:
            f.write("this is not a pool at all.\n\n\n\n")
    elif kind == "random":
        with open(path, "wb") as f:
            f.write(random.Random(1).randbytes(1 * MiB))
    elif kind == "zero":
        with open(path, "wb") as f:
            f.truncate(16 * MiB)
    elif kind == "version":
        write_pool(path, version=7)
    else:
        img = filled_pool(path)
        if kind == "xlate":
            img.put(img.sb["xlate_off"] + 8, (1).to_bytes(4, "little"))
        else:
            img.put(img.sb["xlate_off"] + img.geom["regions_off"] + 3 * LINE, b"\x09")
    before = digest(path)
    line = refused(fail(path, 0))
    assert re.fullmatch(message + ".*", line), line
    assert digest(path) == before


def test_a_region_fails_once(tmp_path):
    path = filled_pool(str(tmp_path / "p.pool")).path
    assert fail(path, 2).returncode == 0
    before = digest(path)
    assert refused(fail(path, 2)) == "dmos: region 2 has already failed"
    with pytest.raises(inject.InjectError, match="region 2 has already failed"):
        inject.fail_region(path, 2)
    assert digest(path) == before


def test_no_such_cluster_or_file(tmp_path):
    r = run_dmos("fail-region", "0", "--cluster", "inj-nope")
    assert refused(r).startswith("dmos: no cluster 'inj-nope' is running")
    r = run_dmos("fail-region", "0", "--pool-path", tmp_path / "nope.pool")
    assert r.returncode == 2 and r.stderr == \
        "dmos: --pool-path %s: no such file or device\n" % (tmp_path / "nope.pool")
    assert not os.path.exists(tmp_path / "nope.pool")


# --- injections: exactly the protocol's bytes change ---------------------------

@pytest.mark.parametrize("region", [0, 3, 7])     # first, middle, last (short) region
def test_an_injection_changes_exactly_the_region(tmp_path, region):
    img = filled_pool(str(tmp_path / "p.pool"))
    img.failures(4)                                 # four regions failed before, elsewhere
    before = read(img.path)
    r = fail(img.path, region)
    frames = 1536 if region == 7 else 2048          # 62 MiB of data in 8 MiB regions
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == "dmos: region %d failed (injected): %d device frames destroyed\n" % (
        region, frames)
    assert read(img.path) == expected_after(before, img.sb, img.geom["regions_off"],
                                            region, 5)
    rep = report(img.path)
    g = rep["regions"][region]
    assert (g["state"], g["failed_seq"], g["frames"]) == ("failed", 5, frames)
    assert (g["lost_optional"], g["lost_vital"], g["killed"]) == (0, 0, 0)
    assert rep["translation"]["failures"] == 5
    assert [x["state"] for x in rep["regions"]].count("failed") == 1


def test_the_api_and_the_inspector_after_two_failures(tmp_path):
    img = filled_pool(str(tmp_path / "p.pool"))
    img.take(5, 0, pid=1000003)
    img.take(2048 + 7, 1, pid=2000001)              # in region 1
    assert inject.fail_region(img.path, 1) == (2048, 1)
    assert inject.fail_region(img.path, "6") == (2048, 2)
    rep = report(img.path)
    assert [(g["region"], g["failed_seq"]) for g in rep["regions"]
            if g["state"] == "failed"] == [(1, 1), (6, 2)]
    assert rep["regions"][0]["used_by_pid"] == {"1000003": 1}
    assert rep["regions"][1]["used_by_pid"] == {"2000001": 1}
    text = run_dmos("pool", "--pool-path", img.path).stdout
    assert "regions: 8 (6 online, 2 failed), 2 failed since format" in text
    assert "  region 6 failed (failure 2): lost 0 optional and 0 vital pages in use; " \
        "killed 0 processes" in text


# --- a real cluster, and the pool image it leaves ------------------------------

@pytest.mark.boot
def test_injection_into_a_live_cluster_and_its_kept_pool(launch, tmp_path):
    image = str(tmp_path / "kept.pool")
    with open(image, "wb") as f:
        f.truncate(32 * MiB)
    c = launch(nodes=1, pool="32M", node_args={"all": "region=4"},
               extra=["--pool-path", image])
    m = c.mark(0)
    c.send(0, "hold 1100\n")                        # regions 0 and 1 (1024 pages each)
    c.wait_line(0, r"node 0: hold: 1100 pool pages taken", since=m)
    rep = json.loads(c.dmos("pool", "--json").stdout)
    sb = rep["superblock"]
    assert (sb["region_pages"], sb["regions"], sb["npages"]) == (1024, 8, 7680)
    assert [g["used"] for g in rep["regions"][:3]] == [1024, 76, 0]

    # live: a region nobody uses; the launcher's log has it, the node stays up
    r = c.dmos("fail-region", "5")
    assert r.returncode == 0 and r.stdout == \
        "dmos: region 5 failed (injected): 1024 device frames destroyed\n", r.stderr
    assert "fault: dmos fail-region 5: region 5 failed (failure 1), 1024 device frames " \
        "destroyed" in c.launcher_log()
    assert refused(c.dmos("fail-region", "5")) == "dmos: region 5 has already failed"
    m = c.mark(0)
    c.send(0, "nodes\n")
    c.wait_line(0, r"node 0: nodes: 1", since=m)
    g = json.loads(c.dmos("pool", "--json").stdout)["regions"][5]
    assert (g["state"], g["failed_seq"]) == ("failed", 1)
    c.down()

    # the kept image: region 1 holds the node's pages; its neighbours keep every byte
    with PoolFile(image) as f:
        regions_off = poolmem.read_xlate(f, parse(f))[2].hdr["regions_off"]
    before = read(image)
    assert fail(image, 1).returncode == 0
    after = read(image)
    assert after == expected_after(before, sb, regions_off, 1, 2)
    first = sb["data_off"] + 1024 * PAGE_SIZE
    assert before[first - PAGE_SIZE:first] == after[first - PAGE_SIZE:first] != \
        bytes(PAGE_SIZE)                            # region 0's last page: the node's data
    assert fail(image, 7).stdout == \
        "dmos: region 7 failed (injected): 512 device frames destroyed\n"   # short, last
    rep = report(image)
    assert [(g["region"], g["state"], g["failed_seq"]) for g in rep["regions"]
            if g["state"] != "online"] == [(1, "failed", 2), (5, "failed", 1),
                                           (7, "failed", 3)]
    assert rep["translation"]["failures"] == 3
    assert rep["regions"][1]["used_by_node"] == {"0": 76}
    assert rep["problems"] == []
