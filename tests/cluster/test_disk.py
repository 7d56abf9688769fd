"""Tests of the shared disk on booted clusters: one raw image every node
opens as virtio-blk. What one node writes (through the driver, `blk write`
on its monitor) another reads back, the host finds the same bytes in the
image file, and the device fills a pool page by its bus address; a node
sees what the host wrote into the user's image; an image `up` created is
gone after down, whichever way the cluster stops, while the user's stays;
a node without a disk boots as before; a created disk is a dmosfs with
the programs in /bin and a journal per node, which every node names at
boot; a node refuses a damaged superblock (magic, version, checksum,
geometry) with fsck's reason and keeps running. Refused options are tested in
tests/tools/test_disk_options.py.
"""

import os
import re
import signal
import subprocess
import time

import pytest

from dmoslib import cluster, params

SECTOR = 512


def pattern(word, sector, count=1):
    """What `blk write SECTOR COUNT WORD` puts on the disk (fs/blkcmd.c)."""
    out = b""
    for s in range(sector, sector + count):
        line = ("%s %d\n" % (word, s)).encode()
        out += (line * (SECTOR // len(line) + 1))[:SECTOR]
    return out


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_image(path, sector, count):
    with open(path, "rb") as f:
        f.seek(sector * SECTOR)
        return f.read(count * SECTOR)


def write_image(path, sector, data):
    with open(path, "r+b") as f:
        f.seek(sector * SECTOR)
        f.write(data)


def user_image(tmp_path, size=8 << 20):
    """An image of the user's, with the host's pattern at sector 10."""
    path = str(tmp_path / "mine.img")
    with open(path, "wb") as f:
        f.truncate(size)
    write_image(path, 10, pattern("host", 10, 4))
    return path



def blk(c, n, command, regex, timeout=30):
    """Run a blk command on node n's monitor; returns the match of its last line."""
    return c.command(n, command, r"node %d: blk[^\n]*" % n + regex, timeout)



@pytest.mark.boot
def test_what_one_node_writes_another_reads_and_the_host_sees(launch):
    c = launch(nodes=2, extra=["--disk", "64M"])
    for n in range(2):
        c.wait_line(n, r"blk: virtio-blk 64 MiB \(131072 sectors\), queue of \d+, "
                    r"\d+ segments a request, write cache \(flush\)$")
    disk = c.cfg()["disk_path"]
    assert disk == os.path.join(c.run_dir, params.DISK_IMAGE)
    assert os.path.getsize(disk) == 64 << 20
    assert os.stat(disk).st_blocks * 512 < 32 << 20   # sparse: mkfs wrote only metadata

    st = c.status()
    assert (st["disk_path"], st["disk_size"], st["disk_kept"], st["disk"]) == (
        disk, 64 << 20, False, "present")
    assert "disk 64M at %s: present, removed on down" % disk in c.dmos("status").stdout

    # what the boot read (the probe's superblock, dmosfs's mount: journal
    # header and the root directory's inode)
    base = [blk(c, n, "blk", r": 131072 sectors \(64 MiB\), (\d+) reads \((\d+) sectors\), ")
            for n in range(2)]
    base = [(int(m.group(1)), int(m.group(2))) for m in base]

    # node 0 writes, node 1 reads it back through its own QEMU
    blk(c, 0, "blk write 2000 16 shared", r"write: 16 sectors at 2000 \(shared\)")
    blk(c, 1, "blk read 2000 16 shared", r"read: 16 sectors at 2000, fnv [0-9a-f]{16}, "
        r"\d+ us, pattern shared: matches$")
    assert read_image(disk, 2000, 16) == pattern("shared", 2000, 16)
    # the device fills a pool page by its bus address, as the page cache will
    blk(c, 1, "blk pool 2008 shared", r"pool: 8 sectors at 2008 into pool page \d+ "
        r"\(device frame \d+\), pattern shared: matches$")
    blk(c, 1, "blk pool 2009 shared", r"pattern shared: differs$")    # one sector off
    # and the other way round, 150 KiB from an odd sector on
    blk(c, 1, "blk write 4095 300 back", r"write: 300 sectors at 4095")
    m = blk(c, 0, "blk read 4095 300 back", r"read: 300 sectors at 4095, fnv ([0-9a-f]{16})"
            r".*pattern back: matches$")
    assert int(m.group(1), 16) == fnv1a(pattern("back", 4095, 300))
    assert read_image(disk, 4095, 300) == pattern("back", 4095, 300)
    # the check can fail: node 1's data is not node 0's word, nor unwritten sectors
    blk(c, 0, "blk read 2000 16 back", r"pattern back: differs at sector 2000$")
    m = blk(c, 0, "blk read 9000 2", r"read: 2 sectors at 9000, fnv ([0-9a-f]{16})")
    assert int(m.group(1), 16) == fnv1a(bytes(2 * SECTOR))

    blk(c, 0, "blk flush", r"flush: done \(0\)$")
    blk(c, 0, "blk read 131071 1", r"read: 1 sectors at 131071, fnv")     # the last one
    blk(c, 0, "blk read 131071 2", r"read: 2 sectors at 131071 failed \(-22\)$")
    blk(c, 0, "blk write 131072 1 x", r"write: 1 sectors at 131072 failed \(-22\)$")
    blk(c, 0, "blk read 1 0", r"read: COUNT is 1 to 2048 sectors$")
    # what was refused never became a request
    blk(c, 1, "blk", r": 131072 sectors \(64 MiB\), %d reads \(%d sectors\), "
        % (base[1][0] + 3, base[1][1] + 32))
    blk(c, 0, "blk", r": 131072 sectors \(64 MiB\), %d reads \(%d sectors\), "
        r"1 writes \(16 sectors\), 1 flushes, 0 errors$" % (base[0][0] + 4, base[0][1] + 319))
    for n in range(2):
        assert "CPU exception" not in c.log(n) and "offline" not in c.log(n)

    c.down()
    assert not os.path.exists(disk)
    assert "removed disk image %s" % disk in c.launcher_log()
    assert c.status()["disk"] == "removed"


@pytest.mark.boot
def test_the_users_image_is_used_as_is_and_kept(launch, tmp_path):
    path = user_image(tmp_path, size=8 << 20)
    c = launch(nodes=1, extra=["--disk-path", path])
    c.wait_line(0, r"blk: virtio-blk 8 MiB \(16384 sectors\)")
    blk(c, 0, "blk read 10 4 host", r"pattern host: matches$")      # the host's data
    blk(c, 0, "blk write 20 2 node", r"write: 2 sectors at 20")
    st = c.status()
    assert (st["disk_path"], st["disk_size"], st["disk_kept"]) == (path, 8 << 20, True)
    assert "yours (kept on down)" in c.dmos("status").stdout
    c.down()
    assert os.path.getsize(path) == 8 << 20
    assert read_image(path, 10, 4) == pattern("host", 10, 4)
    assert read_image(path, 20, 2) == pattern("node", 20, 2)
    assert "removed disk image" not in c.launcher_log()


@pytest.mark.boot
def test_a_node_without_a_disk_boots_as_before(launch):
    c = launch(nodes=1, extra=["--no-disk"])
    c.wait_line(0, params.JOIN_RE.pattern)
    blk(c, 0, "blk", r": this node has no disk$")
    assert "blk:" not in c.log(0).split("node 0: blk: this node")[0]
    assert "1af4:1001" not in c.log(0)
    st = c.status()
    assert st["disk_path"] is None and "disk" not in st
    assert "  no disk" in c.dmos("status").stdout
    assert os.listdir(c.run_dir).count(params.DISK_IMAGE) == 0


@pytest.mark.boot
def test_the_image_goes_however_the_cluster_stops(launch):
    # Ctrl-C to a foreground `up`
    c = launch(nodes=1, detach=False)
    c.wait_line(0, params.JOIN_RE.pattern)
    disk = os.path.join(c.run_dir, params.DISK_IMAGE)
    assert os.path.exists(disk)
    assert "disk 256M at %s (removed on down)" % disk in c.output().update()
    assert c.interrupt() == 0
    assert not os.path.exists(disk)

    # the supervisor dies: the image stays until `dmos down` cleans up
    c = launch(nodes=1)
    disk = c.cfg()["disk_path"]
    os.kill(c.supervisor_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while c.qemu_procs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.qemu_procs() == [] and os.path.exists(disk)
    r = c.dmos("down")
    assert r.returncode == 0 and "removed %s" % disk in r.stdout, r
    assert not os.path.exists(disk)

    # an image of the same name the next run created is that run's, not ours
    c = launch(nodes=1)
    disk = c.cfg()["disk_path"]
    old = cluster.Run(c.name)
    old.load()
    old.cfg["disk_id"] = [0, 0]                 # as a previous run recorded its own
    old.remove_disk()
    assert os.path.exists(disk)
    c.down()
    assert not os.path.exists(disk)


@pytest.mark.boot
def test_a_created_disk_is_a_dmosfs_with_the_programs_and_a_journal_per_node(launch):
    c = launch(nodes=2)
    disk = c.status()["disk_path"]
    fsck = subprocess.run([params.DMOSFS, "fsck", disk], capture_output=True, text=True)
    progs = sorted(os.listdir(params.PROGRAMS_DIR))
    # the programs in /bin, and the web root httpd serves (/www/index.html)
    assert fsck.returncode == 0 and "clean: %d files, 3 directories;" % (len(progs) + 1) \
        in fsck.stdout, fsck.stdout + fsck.stderr
    assert sorted(dmosfs("ls", disk, "/bin").split()) == progs
    assert dmosfs("ls", disk, "/www").split() == ["index.html"]
    info = subprocess.run([params.DMOSFS, "info", disk], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert re.search(r"label\s+%s\b" % c.name, info.stdout), info.stdout
    assert re.search(r"journals\s+%d\b" % params.DISK_JOURNALS_MIN, info.stdout), info.stdout
    assert "dmosfs of" in c.launcher_log()


def dmosfs(*args):
    r = subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def damage(path, offset, data, fix_csum=False):
    """Write data at offset into the superblock; fix_csum: make its checksum
    (the last 4 of its 256 bytes, fs/format.h) right again, so the check
    after it must see the damage."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        if fix_csum:
            f.seek(0)
            sb = bytearray(f.read(256))
            sb[252:256] = bytes(4)
            f.seek(252)
            f.write(crc32c(bytes(sb)).to_bytes(4, "little"))


@pytest.mark.boot
@pytest.mark.parametrize("what, offset, data, fix, reason", [
    ("magic", 0, b"NOTDMOS!", False, r"bad magic"),
    ("version", 8, (7).to_bytes(4, "little"), True, r"version 7"),
    ("checksum", 40, b"\xff", False, r"checksum"),
    ("geometry", 28, (1 << 20).to_bytes(4, "little"), True, r"blocks"),  # nblocks > disk
])
def test_a_node_refuses_a_damaged_file_system_and_keeps_running(launch, tmp_path, what,
                                                                   offset, data, fix, reason):
    img = tmp_path / "disk.img"
    dmosfs("mkfs", img, "--size", "16M")
    damage(img, offset, data, fix)
    fsck = subprocess.run([params.DMOSFS, "fsck", img], capture_output=True, text=True)
    assert fsck.returncode == 2, fsck.stdout + fsck.stderr
    said = (fsck.stderr or fsck.stdout).strip().split(": ", 1)[-1]
    c = launch(nodes=1, extra=["--disk-path", str(img)])
    m = c.wait_line(0, r"node 0: fs: disk refused: (.*); running without it$")
    assert re.search(reason, m.group(1)), m.group(1)
    assert m.group(1) in said or said in m.group(1), (m.group(1), said)   # fsck's reason
    c.wait_line(0, params.JOIN_RE.pattern)
    # the node still answers, and without the disk the initrd is / again
    blk(c, 0, "blk", r": 32768 sectors \(16 MiB\), \d+ reads")
    mark = c.mark(0)
    c.command(0, "run ls /", r"node 0: run: ls \(pid \d+\) exited with status 0")
    assert re.search(r"^hello\r?$", c.log(0)[mark:], re.M), c.log(0)[mark:]


@pytest.mark.boot
def test_a_node_says_which_file_system_the_disk_holds(launch):
    c = launch(nodes=2, extra=["--disk", "32M"])
    for n in range(2):
        c.wait_line(n, r"node %d: fs: dmosfs '%s' on the disk: 8192 blocks \(32 MiB\), "
                    r"\d+ inodes, 8 journals$" % (n, c.name))
