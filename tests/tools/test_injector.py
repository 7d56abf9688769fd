"""Tests of the fault injector (`dmos fail-region`, `dmos fail-link`,
dmoslib.inject).

Bad input is refused with one `dmos: ...` line and exit status 1, and the
pool file keeps every byte: a file that is not a pool, a damaged or
unformatted pool, a region out of range, negative or not a number, a region
that has already failed, a cluster that is not running. A good injection
follows the protocol of mm/xlate.h: the region's state becomes failed, its
failed_seq and the header's failures count go up together, every device
frame of the region (and nothing else: not one byte of its neighbours)
holds the poison, and the inspector shows it.

A link down (`dmos fail-link N`) is refused the same way, changing nothing:
a node number that is not one of the cluster's, a cluster that is not
running, a node that is not up in the pool's node table (absent, joining,
halted, dead) or whose QEMU is gone, a link already down, a damaged pool,
an NMI that cannot be sent. A good one changes exactly the 8 bytes of the
node's link_down, before the NMI, and `dmos status` shows that node's link
down.

Here on synthetic pools (dmoslib.inject with no QEMU); the same on live
clusters, and the pool image one leaves behind, in
tests/cluster/test_injector_live.py.
"""

import os
import random
import re
import time

import pytest

from conftest import run_dmos, write_pool
from dmoslib import inject, poolimage
from dmoslib.params import DmosError
from dmoslib.pool import LINE, NODE_SIZE, PAGE_SIZE, read_pool
from poolcheck import digest, expected_after, fail, read, refused, report

MiB = 1 << 20


def filled_pool(path, region=8 * MiB):
    """A synthetic 64 MiB pool whose every data byte is random."""
    img = poolimage.create(path, 64 * MiB, 2, "inj", region=region)
    size = img.sb["npages"] * PAGE_SIZE
    img.put(img.sb["data_off"], random.Random(5).randbytes(size))
    return img


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


def bad_pool(path, kind, sound):
    """Write the file kind names at path: not a pool (text, random, zero), or
    a pool damaged one way (version, xlate, region state) that starts as
    sound(path) makes it."""
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
        write_pool(path, version=7, nodes=[(0, "up", 1, 5, 64 * MiB)])
    else:
        img = sound(path)
        if kind == "xlate":
            img.put(img.sb["xlate_off"] + 8, (1).to_bytes(4, "little"))
        else:
            img.put(img.sb["xlate_off"] + img.geom["regions_off"] + 3 * LINE, b"\x09")


@pytest.mark.parametrize("kind,message", [
    ("text", r"dmos: damaged pool: .* is 30 bytes, a pool is at least 8 KiB"),
    ("random", r"dmos: not a dmos pool \(bad magic 0x[0-9a-f]{16}"),
    ("zero", r"dmos: pool .* is not formatted yet \(no node has booted on it\)"),
    ("version", r"dmos: dmos pool format version 7, want version 5"),
    ("xlate", r"dmos: damaged pool .*: translation format version 1, want version 2"),
    ("region state", r"dmos: damaged pool .*: region 3: state 9 is none of"),
])
def test_what_is_not_a_sound_pool_is_refused(tmp_path, kind, message):
    path = str(tmp_path / "bad.pool")
    bad_pool(path, kind, filled_pool)
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


# --- a node loses the pool: dmos fail-link -----------------------------------------

def linked_pool(path):
    """A synthetic 3-node pool: nodes 0 and 2 up, node 1 dead (declared by node 2)."""
    img = filled_pool(path)
    img.node(0, "up", 1, 500)
    img.node(1, "dead", 1, 90, dead_by=3, reclaimed=4)
    img.node(2, "up", 2, 480)
    return img


def link_off(img, n):
    return img.sb["node_table_off"] + n * NODE_SIZE + 48


@pytest.mark.parametrize("node,message", [
    ("3", r"node 3 is not in 0\.\.2 \(the cluster has 3 nodes\)"),
    ("-1", r"node -1 is not in 0\.\.2"),
    ("64", r"node 64 is not in 0\.\.2"),
    ("x", r"node 'x' is not a number \(the cluster has nodes 0\.\.2\)"),
    ("1.5", r"node '1\.5' is not a number"),
    ("", r"node '' is not a number"),
    ("0x1", r"node '0x1' is not a number"),
    ("1", r"node 1 is not up: the pool's node table says dead \(declared by node 2\)"),
])
def test_bad_links_are_refused(tmp_path, node, message):
    img = linked_pool(str(tmp_path / "p.pool"))
    before = digest(img.path)
    sent = []
    with pytest.raises(inject.InjectError) as e:
        inject.link_down(img.path, node, 3, nmi=lambda: sent.append(1))
    assert re.fullmatch(message + ".*", str(e.value)), str(e.value)
    assert digest(img.path) == before and sent == []


@pytest.mark.parametrize("state", ["absent", "joining", "halted"])
def test_a_node_that_is_not_up_keeps_its_link(tmp_path, state):
    img = linked_pool(str(tmp_path / "p.pool"))
    if state != "absent":
        img.node(2, state, 1, 480)
    else:
        img.put(img.sb["node_table_off"] + 2 * NODE_SIZE, bytes(NODE_SIZE))
    before = digest(img.path)
    with pytest.raises(inject.InjectError, match="node 2 is not up: the pool's node table "
                       "says %s$" % state):
        inject.link_down(img.path, 2, 3)
    assert digest(img.path) == before


@pytest.mark.parametrize("kind,message", [
    ("zero", r"pool .* is not formatted yet \(no node has booted on it\)"),
    ("version", r"dmos pool format version 7, want version 5"),
    ("random", r"not a dmos pool \(bad magic 0x[0-9a-f]{16}"),
    ("region state", r"damaged pool .*: region 3: state 9 is none of"),
])
def test_a_link_into_a_damaged_pool_is_refused(tmp_path, kind, message):
    path = str(tmp_path / "bad.pool")
    bad_pool(path, kind, linked_pool)
    before = digest(path)
    with pytest.raises(inject.PoolError) as e:
        inject.link_down(path, 0, 3)
    assert re.fullmatch(message + ".*", str(e.value)), str(e.value)
    assert digest(path) == before


def test_a_link_goes_down_once_and_only_its_word_changes(tmp_path):
    img = linked_pool(str(tmp_path / "p.pool"))
    before = read(img.path)
    seen = []                       # what the node's NMI handler would read

    def nmi():
        seen.append(read_pool(img.path).node(2).link_down)
    t0 = time.monotonic()
    t = inject.link_down(img.path, "2", 3, nmi=nmi)
    assert t0 <= t <= time.monotonic() and seen == [True]
    after = read(img.path)
    want = bytearray(before)
    want[link_off(img, 2):link_off(img, 2) + 8] = (1).to_bytes(8, "little")
    assert after == bytes(want)
    rep = report(img.path)
    assert [(n["slot"], n["state"], n["link_down"]) for n in rep["nodes"]] == \
        [(0, "up", False), (1, "dead", False), (2, "up", True)]
    with pytest.raises(inject.InjectError, match="^node 2's link to the pool is already "
                       "down$"):
        inject.link_down(img.path, 2, 3, nmi=nmi)
    assert read(img.path) == after and len(seen) == 1
    img.node(2, "dead", 2, 480, dead_by=1, link_down=1)    # declared dead since: same
    with pytest.raises(inject.InjectError, match="already down"):
        inject.link_down(img.path, 2, 3)
    inject.link_down(img.path, 0, 3)
    assert [n["link_down"] for n in report(img.path)["nodes"]] == [True, False, True]


@pytest.mark.parametrize("error", [OSError("Connection reset by peer"),
                                   DmosError("qmp inject-nmi: no such command")])
def test_an_nmi_that_cannot_be_sent_leaves_the_link_up(tmp_path, error):
    img = linked_pool(str(tmp_path / "p.pool"))
    before = digest(img.path)
    seen = []

    def nmi():
        seen.append(read_pool(img.path).node(0).link_down)
        raise error
    with pytest.raises(inject.InjectError, match=r"^the NMI could not be sent to node 0 "
                       r"\(.+\); its link_down is back to 0$"):
        inject.link_down(img.path, 0, 3, nmi=nmi)
    assert seen == [True] and digest(img.path) == before


def test_fail_link_without_a_cluster():
    r = run_dmos("fail-link", "0", "--cluster", "lnk-nope")
    assert refused(r).startswith("dmos: no cluster 'lnk-nope' is running")
    r = run_dmos("fail-link", "0", "--cluster", "Bad_Name")
    assert r.returncode == 2 and r.stderr.startswith("dmos: cluster name 'Bad_Name' is "
                                                     "not allowed")
    r = run_dmos("fail-link", "--cluster", "lnk-nope")
    assert r.returncode == 2 and "the following arguments are required: N" in r.stderr
    r = run_dmos("fail-link", "0", "--pool-path", "/dev/null")
    assert r.returncode == 2 and "unrecognized arguments: --pool-path" in r.stderr
