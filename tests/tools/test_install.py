"""Tests of installing programs into /bin of a dmosfs image, no kernel
booted: `dmos install --disk-path PATH` (from the build, or --from DIR)
puts every file there byte for byte, makes /bin when it is missing,
replaces what it installed before and leaves the user's other files
alone, and the image stays clean for fsck; an image that holds no dmosfs,
a missing one, a /bin that is a file and a disk too small are refused
with one line. The disk `up` creates gets the build's programs the same
way (launcher.create, run here without QEMU). The booted side, nodes
running programs from /bin, is tests/cluster/test_bin.py.
"""

import os
import shutil
import subprocess

import pytest

from conftest import new_name, run_dmos
from dmoslib import cluster, install, launcher, params

needs_tool = pytest.mark.skipif(not os.access(params.DMOSFS, os.X_OK),
                                reason="no %s: run make first" % params.DMOSFS)
needs_build = pytest.mark.skipif(not os.path.isdir(params.PROGRAMS_DIR),
                                 reason="no %s: run make first" % params.PROGRAMS_DIR)


def tool(*args, ok=True):
    r = subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True)
    if ok:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def image(tmp_path, size="32M", name="disk.img"):
    path = tmp_path / name
    tool("mkfs", path, "--size", size, "--journals", 2)
    return str(path)


def listing(img, path="/bin"):
    return sorted(tool("ls", img, path).stdout.decode().split())


def contents(img, path):
    return tool("get", img, path, "-").stdout


def fake_build(tmp_path, files):
    src = tmp_path / "progs"
    src.mkdir(exist_ok=True)
    for name, data in files.items():
        (src / name).write_bytes(data)
        (src / name).chmod(0o755)
    return str(src)


@needs_tool
def test_install_puts_every_file_into_bin(tmp_path):
    files = {"alpha": b"\x7fELF" + bytes(range(256)) * 40, "beta": b"b" * 5000,
             "gamma": os.urandom(70000)}     # direct and indirect blocks
    img, src = image(tmp_path), fake_build(tmp_path, files)
    r = run_dmos("install", "--disk-path", img, "--from", src)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[:-1] == ["dmos: installed /bin/%s (%d bytes)" % (n, len(files[n]))
                          for n in sorted(files)], r.stdout
    assert lines[-1] == "installed 3 programs into /bin of %s" % img
    assert listing(img) == sorted(files)
    for name, data in files.items():
        assert contents(img, "/bin/" + name) == data
    assert "-rwxr-xr-x" in tool("ls", "-l", img, "/bin").stdout.decode()
    assert tool("fsck", img).returncode == 0


@needs_tool
def test_install_again_replaces_and_keeps_the_users_files(tmp_path):
    img = image(tmp_path)
    src = fake_build(tmp_path, {"tool": b"old" * 3000, "other": b"x"})
    assert run_dmos("install", "--disk-path", img, "--from", src).returncode == 0
    mine = tmp_path / "mine"
    mine.write_bytes(b"the user's own program")
    tool("put", img, mine, "/bin/mine")
    src = fake_build(tmp_path, {"tool": b"new", "other": b"y" * 9000})
    r = run_dmos("install", "--disk-path", img, "--from", src)
    assert r.returncode == 0, r
    assert "dmos: installed /bin/tool (3 bytes, replaced)" in r.stdout.splitlines()
    assert contents(img, "/bin/tool") == b"new"             # not "new" over "oldold..."
    assert contents(img, "/bin/other") == b"y" * 9000
    assert contents(img, "/bin/mine") == b"the user's own program"
    assert listing(img) == ["mine", "other", "tool"]
    assert tool("fsck", img).returncode == 0


@needs_tool
def test_install_refuses_what_it_cannot_use(tmp_path):
    src = fake_build(tmp_path, {"p": b"p"})
    junk = tmp_path / "junk.img"
    junk.write_bytes(b"\xaa" * (1 << 20))
    r = run_dmos("install", "--disk-path", junk, "--from", src)
    assert r.returncode == 2 and "holds no dmosfs" in r.stderr and r.stdout == "", r
    assert junk.read_bytes() == b"\xaa" * (1 << 20)          # left as it was
    r = run_dmos("install", "--disk-path", tmp_path / "none.img", "--from", src)
    assert r.returncode == 2 and "does not exist; make a dmosfs there first" in r.stderr, r
    r = run_dmos("install", "--disk-path", image(tmp_path), "--from", tmp_path / "nothing")
    assert r.returncode == 2 and "no programs in" in r.stderr, r
    r = run_dmos("install")
    assert r.returncode == 2 and "--disk-path" in r.stderr, r

    img = image(tmp_path, name="binfile.img")
    tool("put", img, junk, "/bin")                           # /bin is a file
    r = run_dmos("install", "--disk-path", img, "--from", src)
    assert r.returncode == 1, r
    assert r.stderr.strip() == "dmos: %s: /bin is a file, not a directory; remove it first " \
        "(build/tools/dmosfs rm %s /bin)" % (img, img), r.stderr
    assert listing(img, "/") == ["bin"]


@needs_tool
def test_a_disk_too_small_says_so(tmp_path):
    img = image(tmp_path, size="2M")
    src = fake_build(tmp_path, {"huge": os.urandom(3 << 20)})
    r = run_dmos("install", "--disk-path", img, "--from", src)
    assert r.returncode == 1, r
    assert "cannot install /bin/huge into %s" % img in r.stderr, r.stderr
    assert "the disk is too small for the programs, choose a larger one" in r.stderr
    assert tool("fsck", img).returncode == 0                 # the failed put left nothing


@needs_tool
@needs_build
def test_install_from_the_build_is_what_the_initrd_holds(tmp_path):
    img = image(tmp_path)
    r = run_dmos("install", "--disk-path", img)
    assert r.returncode == 0, r
    names = sorted(os.listdir(params.PROGRAMS_DIR))
    assert listing(img) == names
    for must in ("init", "sh", "hello", "head", "stat", "touch", "rmdir", "sync"):
        assert must in names
    with open(os.path.join(params.PROGRAMS_DIR, "sh"), "rb") as f:
        assert contents(img, "/bin/sh") == f.read()
    cpio = os.path.join(os.path.dirname(params.PROGRAMS_DIR), "initrd.cpio")
    listed = subprocess.run(["cpio", "-it", "--quiet"], stdin=open(cpio, "rb"),
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == names                           # the same files as the initrd


@needs_tool
@needs_build
def test_the_disk_up_creates_holds_the_programs(tmp_path):
    run = cluster.Run(new_name())
    disk = os.path.join(run.dir, params.DISK_IMAGE)
    cfg = dict(cluster=run.name, nodes=2, pool_is_device=True, pool_path="/dev/null",
               disk_path=disk, disk_size=64 << 20, disk_kept=False, disk_id=None,
               command="dmos up (test)")
    try:
        launcher.create(run, cfg)
        assert listing(disk) == sorted(n for n, _ in install.programs())
        assert tool("fsck", disk).returncode == 0
        log = open(run.logfile).read()
        assert "installed /bin/sh (" in log
        assert "installed %d programs into /bin of the disk" % len(install.programs()) in log
    finally:
        shutil.rmtree(run.dir, ignore_errors=True)
