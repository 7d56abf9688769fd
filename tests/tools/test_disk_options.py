"""Tests of the shared disk's options (dmos up --disk, --disk-path,
--no-disk, --fs-cache) that need no kernel: bad input is refused with exit
2 and one line before anything is created, a user's image is left exactly
as it was, and --fs-cache private puts fscache=private on every node's
kernel command line. The booted disk is tested in tests/cluster/test_disk.py.
"""

import os
import shutil

import pytest

from conftest import ISO, new_name, run_dmos
from dmoslib import cli, launcher, params, qemu

# --- bad input: exit 2, one line, nothing created ------------------------

BAD_DISK = [
    (["--disk", "512K"], "--disk 512K is out of range; the shared disk is 1M to 1T"),
    (["--disk", "2T"], "--disk 2T is out of range"),
    (["--disk", "0M"], "--disk 0M is out of range"),
    (["--disk", "1026K"], "--disk 1026K is not a whole number of 4 KiB pages"),
    (["--disk", "256"], "a unit is required"),
    (["--disk", "big"], "--disk 'big' is not a size"),
    (["--no-disk", "--disk", "64M"], "--no-disk with --disk: choose one"),
    (["--no-disk", "--disk-path", "/dev/null"], "--no-disk with --disk-path: choose one"),
    (["--disk-path", "/nonexistent/disk.img"], "--disk-path /nonexistent/disk.img does "
     "not exist; create the image first"),
    (["--disk-path", "/tmp"], "--disk-path /tmp is neither a regular file nor a block "
     "device"),
    (["--disk-path", "/dev/null"], "is neither a regular file nor a block device"),
    (["--fs-cache", "local"], "up: argument --fs-cache: invalid choice: 'local' (choose "
     "from 'shared', 'private')"),
    (["--fs-cache"], "argument --fs-cache: expected one argument"),
    (["--fs-cache", "private", "--no-disk"], "--fs-cache private with --no-disk: without "
     "a disk there is no page cache to make private"),
]


def refused(args, message, name=None):
    """Run `up` with args: refused with message, and nothing of the cluster exists."""
    name = name or new_name()
    r = run_dmos("up", "--detach", "--cluster", name, "--iso",
                 ISO if os.path.exists(ISO) else __file__, *args)
    assert r.returncode == 2, r
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmos: "), r.stderr
    assert message in lines[0], lines[0]
    assert not os.path.exists(params.run_dir_for(name))
    assert not os.path.exists(params.pool_path_for(name))
    return lines[0]


@pytest.mark.parametrize("args,message", BAD_DISK, ids=[" ".join(a) for a, _ in BAD_DISK])
def test_bad_disk_input_refused_and_nothing_created(args, message):
    refused(args, message)


def test_bad_user_images_are_refused_and_left_alone(tmp_path):
    odd = tmp_path / "odd.img"
    odd.write_bytes(b"x" * 1000)
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    good = tmp_path / "mine.img"
    good.write_bytes(bytes(range(256)) * 4096)      # 1 MiB of the user's data
    good = str(good)

    def state():
        with open(good, "rb") as f:
            return os.path.getsize(good), os.path.getmtime(good), f.read()
    before = state()

    refused(["--disk-path", str(odd)], "is 1000 bytes; a disk is a whole number of "
            "512-byte sectors")
    refused(["--disk-path", str(empty)], "is 0 bytes")
    refused(["--disk-path", good, "--disk", "8M"], "has a size of its own; leave out --disk")
    os.chmod(good, 0o400)
    if not os.access(good, os.W_OK):            # root writes anyway
        refused(["--disk-path", good], "is not readable and writable for you")
    os.chmod(good, 0o600)
    with open(good, "rb"):                      # this test holds it open
        line = refused(["--disk-path", good], "disk %s is in use by pid %d" % (
            good, os.getpid()))
    assert "choose another --disk-path" in line
    assert state() == before
    assert odd.read_bytes() == b"x" * 1000


def test_an_image_in_the_run_dir_is_refused(tmp_path):
    # `up` empties the run dir: an image the user keeps there would be lost
    name = new_name()
    run_dir = params.run_dir_for(name)
    os.makedirs(run_dir)
    try:
        path = os.path.join(run_dir, "keep.img")
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        r = run_dmos("up", "--detach", "--cluster", name, "--iso",
                     ISO if os.path.exists(ISO) else __file__, "--disk-path", path)
        assert r.returncode == 2 and "is in the cluster's run dir, which `up` empties" \
            in r.stderr, r.stderr
        assert os.listdir(run_dir) == ["keep.img"] and os.path.getsize(path) == 1 << 20
    finally:
        for f in os.listdir(run_dir):
            os.unlink(os.path.join(run_dir, f))
        os.rmdir(run_dir)




@pytest.mark.skipif(not shutil.which(params.qemu_binary()), reason="no QEMU to plan for")
@pytest.mark.parametrize("flag,word", [([], None), (["--fs-cache", "shared"], None),
                                       (["--fs-cache", "private"], "fscache=private")])
def test_fs_cache_goes_on_every_nodes_command_line(tmp_path, flag, word):
    img = tmp_path / "disk.img"
    img.write_bytes(b"\0" * (1 << 20))
    name = new_name()
    a = cli.build_parser().parse_args(
        ["up", "--cluster", name, "--nodes", "3", "--iso", ISO if os.path.exists(ISO)
         else __file__, "--disk-path", str(img), "--node-arg", "all:debug"] + flag)
    _, cfg = launcher.plan(a)                   # what `up` would start; changes nothing
    assert not os.path.exists(params.run_dir_for(name))
    for n in range(3):
        words = qemu.cmdline(cfg, n).split()
        assert words[:3] == ["node=%d" % n, "nodes=3", "cluster=%s" % name] and "debug" in words
        assert [w for w in words if w.startswith("fscache")] == ([word] if word else [])
        assert cfg["node"][n]["cmdline"] == " ".join(words)
        fw = [x for x in qemu.argv(cfg, n) if x.startswith("name=opt/dmos/cmdline,")]
        assert fw == ["name=opt/dmos/cmdline,string=%s" % " ".join(words)]
    assert ("a private page cache per node" in launcher.disk_text(cfg)) == bool(word)
