"""A node refuses a damaged pool at attach, for the reason the inspector gives.

One node boots (`dmos up --pool-path`) on a pool image that dmoslib.poolimage
formats as a kernel would and then damages one way the kernel used to take:
a translation granularity of 2^65 pages, a ring mesh whose area in the
superblock does not hold its rings, a page record that names no node. The
node's console says `pool refused: ` and the very reason `dmos pool` gives
first for that file, in one line; the node keeps running without the pool,
and not one byte of the image changes. (Every invariant, on both sides, is
tests/tools/test_poolcheck.py; this is the kernel doing it at boot.)
"""

import re

import pytest

from dmoslib import inspector, poolimage

MiB = 1 << 20


def damage(img, kind):
    sb = img.sb
    if kind == "gshift":
        img.set_super(gshift=65)
    elif kind == "ring_size":
        img.set_super(ring_size=sb["ring_size"] - 64)
    else:
        img.take(40, -1)                    # node field 0, a pid: names no node


@pytest.mark.boot
@pytest.mark.parametrize("kind,reason", [
    ("gshift", r"translation granularity 2\^65 pages is more than the kernel's largest"),
    ("ring_size", r"ring mesh: 1 x 1 rings of \d+ bytes need \d+ bytes, the superblock "
                  r"gives the area \d+"),
    ("palloc_record", r"allocator: 1 page records name no node"),
])
def test_node_refuses_a_damaged_pool_and_runs_on(launch, tmp_path, kind, reason):
    path = str(tmp_path / "damaged.pool")
    img = poolimage.create(path, 64 * MiB, 1, "damaged")
    damage(img, kind)
    rep = inspector.inspect(path)
    assert re.match(reason, rep["problems"][0]), rep["problems"]
    with open(path, "rb") as f:
        before = f.read()
    c = launch(nodes=1, pool="64M", extra=["--pool-path", path], detach=False)
    c.wait_line(0, r"node 0: running without the pool", timeout=30)
    refused = re.findall(r"\] node 0: pool refused: (.*)$", c.log(0), re.M)
    assert refused == [rep["problems"][0]], refused
    assert c.alive(0), "a refused pool must not stop the node"
    c.down()
    with open(path, "rb") as f:
        assert f.read() == before, "a refused pool must not be written"
