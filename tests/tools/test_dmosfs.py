"""Tests of build/tools/dmosfs, the host tool for dmosfs images (tools/fs):
mkfs, copying files in and out (up to the double-indirect range), space
freed by rm, the command line's refusals; fsck on images damaged one
invariant at a time by editing their bytes (the specific line, exit 1, or 2
for the superblock; then --repair, then clean); writes killed at every one
of their disk writes (replay or an orphan, never a half file); and a seeded
fuzz loop of random corruptions against the tool built with ASan/UBSan,
which must never crash, hang or exit other than 0, 1 or 2.

The layout constants below are fs/format.h's; the tests parse images with
them on their own, so a tool that wrote the wrong bytes would be caught.
"""

import os
import random
import shutil
import struct
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "build", "tools", "dmosfs")
ASAN = os.path.join(REPO, "build", "tools", "dmosfs-asan")
SAN_ENV = {"ASAN_OPTIONS": "exitcode=86:detect_leaks=1", "UBSAN_OPTIONS": "exitcode=86:print_stacktrace=1"}

BLOCK = 4096
INODE = 256
DIRENT = 128
NDIRECT = 12
PER_BLOCK = BLOCK // 4
ROOT = 1
ORPHAN = 1
S_IFDIR = 0o040000
S_IFREG = 0o100000
SUPER = struct.Struct("<QIIIIII16sIIIIIIIIIIIIQ32s116sI")
SUPER_FIELDS = ("magic version block_size compat ro_compat incompat nblocks uuid ninodes "
                "njournals journal_blocks journal_start ibitmap_start ibitmap_blocks "
                "bbitmap_start bbitmap_blocks inode_start inode_blocks data_start root_ino "
                "mkfs_time label reserved csum").split()
INODE_S = struct.Struct("<HHIQQQQII12III152s")
DIRENT_S = struct.Struct("<IBBH120s")
JHEAD = struct.Struct("<IIQII16s20sI")


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ CRC_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def test_crc32c_helper():
    assert crc32c(b"123456789") == 0xE3069283


@pytest.fixture(scope="session", autouse=True)
def built():
    subprocess.run(["make", "-s", "-C", REPO, "build/tools/dmosfs", "build/tools/dmosfs-asan"],
                   check=True, stdout=subprocess.DEVNULL)


def run(*args, tool=TOOL, env=None, timeout=60, stdin=None):
    full_env = dict(os.environ, **SAN_ENV, **(env or {}))
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=stdin)


def ok(*args, **kw):
    r = run(*args, **kw)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


class Image:
    """An image file, read and edited as fs/format.h lays it out."""

    def __init__(self, path):
        self.path = path

    def read(self, off, n):
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def write(self, off, data):
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(data)

    def block(self, b):
        return self.read(b * BLOCK, BLOCK)

    @property
    def super(self):
        return dict(zip(SUPER_FIELDS, SUPER.unpack(self.read(0, SUPER.size))))

    def set_super(self, fix_csum=True, **fields):
        s = self.super
        s.update(fields)
        raw = SUPER.pack(*[s[k] for k in SUPER_FIELDS])
        if fix_csum:
            raw = raw[:-4] + struct.pack("<I", crc32c(raw[:-4] + b"\0\0\0\0"))
        self.write(0, raw)

    def inode_off(self, ino):
        return self.super["inode_start"] * BLOCK + ino * INODE

    def inode(self, ino):
        v = INODE_S.unpack(self.read(self.inode_off(ino), INODE))
        return {"mode": v[0], "nlink": v[1], "flags": v[2], "size": v[3], "nblocks": v[8],
                "direct": list(v[9:21]), "indirect": v[21], "dindirect": v[22]}

    def set_inode(self, ino, **fields):
        raw = bytearray(self.read(self.inode_off(ino), INODE))
        offs = {"mode": (0, "<H"), "nlink": (2, "<H"), "flags": (4, "<I"), "size": (8, "<Q"),
                "nblocks": (44, "<I"), "indirect": (96, "<I"), "dindirect": (100, "<I")}
        for k, v in fields.items():
            if k.startswith("direct"):
                struct.pack_into("<I", raw, 48 + 4 * int(k[6:]), v)
            else:
                o, fmt = offs[k]
                struct.pack_into(fmt, raw, o, v)
        self.write(self.inode_off(ino), bytes(raw))

    def dirents(self, dino):
        """(offset, ino, type, name) of every record of a directory's direct blocks."""
        out = []
        ip = self.inode(dino)
        for i in range(ip["size"] // BLOCK):
            b = ip["direct"][i]
            for r in range(BLOCK // DIRENT):
                off = b * BLOCK + r * DIRENT
                ino, typ, nl, _, name = DIRENT_S.unpack(self.read(off, DIRENT))
                out.append((off, ino, typ, name[:nl]))
        return out

    def entry(self, dino, name):
        for off, ino, typ, n in self.dirents(dino):
            if ino and n == name:
                return off, ino
        raise KeyError(name)

    def free_record(self, dino):
        return next(off for off, ino, _, _ in self.dirents(dino)[2:] if not ino)

    def set_dirent(self, off, ino, typ, name):
        self.write(off, DIRENT_S.pack(ino, typ, len(name), 0, name.ljust(120, b"\0")))

    def bit(self, start, i):
        return self.read(start * BLOCK + i // 8, 1)[0] >> (i % 8) & 1

    def flip_bit(self, start, i):
        off = start * BLOCK + i // 8
        self.write(off, bytes([self.read(off, 1)[0] ^ (1 << (i % 8))]))

    def journal_head(self, slot):
        s = self.super
        at = s["journal_start"] + slot * s["journal_blocks"]
        raw = self.block(at)
        magic, node, seq, nblocks, dcsum, uuid, _, csum = JHEAD.unpack(raw[:JHEAD.size])
        return {"at": at, "seq": seq, "nblocks": nblocks, "csum": csum}


def info(img):
    """(data blocks used, inodes used) as `dmosfs info` says."""
    out = ok("info", img)
    data = next(line for line in out.splitlines() if line.startswith("data"))
    inodes = next(line for line in out.splitlines() if line.startswith("inodes"))
    return int(data.split(": ")[1].split()[0]), int(inodes.split(": ")[1].split()[0])


def fsck_clean(img, tool=TOOL):
    r = run("fsck", img, tool=tool)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": clean: " in r.stdout
    return r.stdout


def rand_bytes(n, seed):
    return random.Random(seed).randbytes(n)


FILES = {
    "empty": b"",
    "one": b"x",
    "block": rand_bytes(BLOCK, 1),
    "direct-end": rand_bytes(NDIRECT * BLOCK + 1, 2),                 # first indirect
    "sparse": rand_bytes(100, 3) + bytes(3 * BLOCK) + rand_bytes(5000, 4),
    "big": rand_bytes(5 << 20, 5),      # > 4 MiB + 48 KiB: the double-indirect range
}


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def mkfs(path, size="64M", *extra):
    out = ok("mkfs", path, "--size", size, *extra)
    assert out.startswith(f"{path}: dmosfs of ")
    return path


def test_mkfs_layout(tmp):
    img = mkfs(tmp / "a.img", "64M", "--label", "demo", "--journals", "4", "--inodes", "1000")
    s = Image(img).super
    assert s["magic"] == 0x3153464F534D4444 and s["nblocks"] == 16384
    assert s["njournals"] == 4 and s["journal_blocks"] == 512 and s["ninodes"] == 1008
    assert s["label"].rstrip(b"\0") == b"demo"
    root = Image(img).inode(ROOT)
    assert root["mode"] == S_IFDIR | 0o755 and root["nlink"] == 2 and root["size"] == BLOCK
    assert root["direct"][0] == s["data_start"]
    names = [(ino, n) for _, ino, _, n in Image(img).dirents(ROOT)[:2]]
    assert names == [(ROOT, b"."), (ROOT, b"..")]
    for slot in range(4):
        h = Image(img).journal_head(slot)
        assert h["nblocks"] == 0 and h["seq"] == 0
    fsck_clean(img)
    assert info(img) == (1, 1)
    # an existing file is formatted at its size
    with open(tmp / "b.img", "wb") as f:
        f.truncate(8 << 20)
    ok("mkfs", tmp / "b.img")
    assert Image(tmp / "b.img").super["nblocks"] == 2048
    fsck_clean(tmp / "b.img")


def test_put_get_round_trip(tmp):
    img = mkfs(tmp / "a.img")
    for name, data in FILES.items():
        (tmp / name).write_bytes(data)
        ok("put", img, tmp / name, "/" + name)
    out = ok("ls", "-l", img)
    for name, data in FILES.items():
        assert f"-rw-r--r--   1 {len(data):10} {name}" in out.splitlines(), out
        ok("get", img, "/" + name, tmp / (name + ".out"))
        assert (tmp / (name + ".out")).read_bytes() == data, name
    big = Image(img).inode(Image(img).entry(ROOT, b"big")[1])
    assert big["dindirect"] and big["indirect"]
    # 1280 data blocks, the indirect block, the double one and one below it
    assert big["nblocks"] == 1280 + 3
    sparse = Image(img).inode(Image(img).entry(ROOT, b"sparse")[1])
    assert sparse["direct"][1] == 0 and sparse["direct"][2] == 0 and sparse["nblocks"] == 3
    assert ok("get", img, "/one", "-") == "x"
    stat = ok("stat", img, "/big")
    assert "type       file" in stat and f"size       {5 << 20}" in stat
    assert fsck_clean(img).startswith(f"{img}: clean: 6 files, 1 directory;")


def test_put_from_stdin_and_replace(tmp):
    img = mkfs(tmp / "a.img", "8M")
    (tmp / "f").write_bytes(rand_bytes(70000, 9))
    ok("put", img, tmp / "f", "/f")
    used = info(img)
    with open(tmp / "f", "rb") as f:
        r = run("put", img, "-", "/g", stdin=f)
    assert r.returncode == 0, r.stderr
    (tmp / "h").write_bytes(b"short")
    ok("put", img, tmp / "h", "/f")             # replaces: the old blocks are freed
    assert ok("get", img, "/f", "-") == "short"
    assert used == (1 + 18 + 1, 2)              # 18 data blocks and an indirect one
    ok("rm", img, "/g")
    assert info(img) == (1 + 1, 2)
    fsck_clean(img)


def test_mkdir_ls_rm_frees_space(tmp):
    img = mkfs(tmp / "a.img", "16M")
    before = info(img)
    ok("mkdir", img, "/docs")
    ok("mkdir", img, "/docs/deep")
    for i in range(40):                         # more than one directory block
        (tmp / "f").write_bytes(rand_bytes(i * 1000, i))
        ok("put", img, tmp / "f", f"/docs/deep/file-{i:02}")
    (tmp / "big").write_bytes(FILES["big"])
    ok("put", img, tmp / "big", "/docs/")       # into a directory: the host name
    ls = ok("ls", "-l", img, "/docs")
    assert [line.split()[-1] for line in ls.splitlines()] == ["deep", "big"]
    assert ls.splitlines()[0].startswith("drwxr-xr-x   2       8192 deep")
    assert len(ok("ls", img, "/docs/deep").split()) == 40
    assert Image(img).inode(ROOT)["nlink"] == 3
    during = info(img)
    assert during[0] > before[0] + 1280 and during[1] == before[1] + 43
    fsck_clean(img)
    r = run("rm", img, "/docs")
    assert r.returncode == 1 and r.stderr == f"dmosfs: {img}: /docs: directory not empty\n"
    for i in range(40):
        ok("rm", img, f"/docs/deep/file-{i:02}")
    ok("rm", img, "/docs/deep")
    ok("rm", img, "/docs/big")
    ok("rm", img, "/docs")
    assert info(img) == before
    assert Image(img).inode(ROOT)["nlink"] == 2
    assert ok("ls", img) == ""
    fsck_clean(img)


def test_errors(tmp):
    img = mkfs(tmp / "a.img", "4M")
    (tmp / "f").write_bytes(b"data")

    def one_line(r, status, text):
        assert r.returncode == status, (r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("dmosfs: "), r.stderr
        assert text in r.stderr, r.stderr

    one_line(run(), 2, "no command")
    one_line(run("frobnicate", img), 2, "no command frobnicate")
    one_line(run("ls", img, "--bogus"), 2, "unknown option --bogus")
    one_line(run("fsck"), 2, "missing arguments")
    one_line(run("get", img, "/f"), 2, "missing arguments")
    one_line(run("ls", img, "/", "/x"), 2, "too many arguments")
    one_line(run("mkfs", img, "--journals", "many"), 2, "--journals: not a number")
    one_line(run("mkfs", img, "--size", "12Q"), 2, "--size: not a size")
    one_line(run("mkfs", img, "--label", "x" * 40), 2, "--label: at most 31 bytes")
    one_line(run("ls", img, "--repair"), 2, "no option --repair here")
    one_line(run("mkfs", tmp / "nonexistent"), 2, "say --size")
    one_line(run("mkfs", tmp / "tiny", "--size", "32K"), 1, "do not hold")
    one_line(run("ls", tmp / "nonexistent"), 2, "No such file")
    one_line(run("ls", img, "/nope"), 1, "/nope: no such file or directory")
    one_line(run("put", img, tmp / "f", "/nodir/f"), 1, "/nodir: no such file or directory")
    one_line(run("put", img, tmp / "missing", "/f"), 1, "missing")
    one_line(run("put", img, tmp / "f", "/" + "n" * 121), 1, "at most 120 bytes")
    one_line(run("put", img, tmp / "f", "/f", "--slot", "8"), 1, "no journal slot 8")
    ok("put", img, tmp / "f", "/f")
    one_line(run("put", img, tmp / "f", "/f/x"), 1, "/f: not a directory")
    one_line(run("mkdir", img, "/f"), 1, "/f: exists")
    one_line(run("get", img, "/", tmp / "out"), 1, "not a file")
    one_line(run("rm", img, "/"), 1, "the root has no name")
    one_line(run("rm", img, "/g"), 1, "/g: no such file or directory")
    (tmp / "junk").write_bytes(b"\0" * 65536)
    one_line(run("info", tmp / "junk"), 2, "not a dmosfs: bad magic")
    one_line(run("fsck", tmp / "junk"), 2, "not a dmosfs: bad magic")
    fsck_clean(img)


def test_fill_the_disk(tmp):
    img = mkfs(tmp / "a.img", "2M")
    before = info(img)
    (tmp / "f").write_bytes(rand_bytes(3 << 20, 7))
    r = run("put", img, tmp / "f", "/f")
    assert r.returncode == 1 and "no space left" in r.stderr
    assert info(img) == before              # what was written is given back
    fsck_clean(img)


# ---------------------------------------------------------------------------
# fsck on images damaged one invariant at a time.

@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """/a/b/c (directories), /a/f1, /a/b/f2, /f3 (~60 KiB: an indirect block), /f4."""
    d = tmp_path_factory.mktemp("pop")
    img = str(d / "pop.img")
    mkfs(img, "4M")
    ok("mkdir", img, "/a")
    ok("mkdir", img, "/a/b")
    ok("mkdir", img, "/a/b/c")
    for name, data in (("/a/f1", b"one"), ("/a/b/f2", rand_bytes(9000, 11)),
                       ("/f3", rand_bytes(60000, 12)), ("/f4", b"four")):
        (d / "src").write_bytes(data)
        ok("put", img, d / "src", name)
    fsck_clean(img)
    return img


@pytest.fixture
def damaged(populated, tmp):
    path = str(tmp / "d.img")
    shutil.copy(populated, path)
    return Image(path)


def lookup(img, path):
    ino = ROOT
    for part in path.strip("/").split("/"):
        ino = img.entry(ino, part.encode())[1]
    return ino


def d_magic(m):
    m.set_super(fix_csum=False, magic=0x1234)


def d_csum(m):
    m.write(200, b"Z")                          # a label byte; the checksum now wrong


def d_overlap(m):
    m.set_super(ibitmap_start=m.super["ibitmap_start"] - 1)


def d_njournals(m):
    m.set_super(njournals=0)


def d_claimed_twice(m):
    m.set_inode(lookup(m, "/f4"), direct0=m.inode(lookup(m, "/a/f1"))["direct"][0])


def d_nlink(m):
    m.set_inode(lookup(m, "/a/f1"), nlink=2)


def d_dir_nlink(m):
    m.set_inode(lookup(m, "/a"), nlink=5)


def d_block_bit(m):
    m.flip_bit(m.super["bbitmap_start"], m.inode(lookup(m, "/f3"))["indirect"])


def d_leaked_bit(m):
    m.flip_bit(m.super["bbitmap_start"], m.super["nblocks"] - 1)


def d_inode_bit(m):
    m.flip_bit(m.super["ibitmap_start"], 200)


def d_free_inode(m):
    off, _ = m.entry(lookup(m, "/a"), b"f1")
    m.set_dirent(off, 200, 1, b"f1")


def d_cycle(m):
    m.set_dirent(m.free_record(lookup(m, "/a/b/c")), lookup(m, "/a"), 2, b"loop")


def d_named_twice(m):
    m.set_dirent(m.free_record(ROOT), lookup(m, "/a/b"), 2, b"b-again")


def d_unreachable(m):
    off, _ = m.entry(lookup(m, "/a/b"), b"c")
    m.set_dirent(off, 0, 0, b"")


def d_bad_name(m):
    off, ino = m.entry(ROOT, b"f4")
    m.set_dirent(off, ino, 1, b"f/4")


def d_duplicate(m):
    m.set_dirent(m.free_record(ROOT), lookup(m, "/f3"), 1, b"f4")


def d_dotdot(m):
    off = m.dirents(lookup(m, "/a/b"))[1][0]
    m.set_dirent(off, ROOT, 2, b"..")


def d_bad_mode(m):
    m.set_inode(lookup(m, "/f4"), mode=0o020644)


def d_out_of_range(m):
    m.set_inode(lookup(m, "/a/b/f2"), direct1=m.super["nblocks"] + 7)


def d_in_metadata(m):
    m.set_inode(lookup(m, "/a/b/f2"), direct1=m.super["inode_start"])


def d_past_size(m):
    m.set_inode(lookup(m, "/f3"), size=10)


def d_nblocks(m):
    m.set_inode(lookup(m, "/f3"), nblocks=3)


def d_orphan(m):
    ino = lookup(m, "/f4")
    off, _ = m.entry(ROOT, b"f4")
    m.set_dirent(off, 0, 0, b"")
    m.set_inode(ino, nlink=0, flags=ORPHAN)


def d_root_gone(m):
    m.set_inode(ROOT, mode=0)


def d_journal_damaged(m):
    h = m.journal_head(2)
    m.write(h["at"] * BLOCK + 8, b"\x09")       # seq changed; the checksum no longer fits


SUPER_CASES = [
    (d_magic, "not a dmosfs: bad magic 0x1234"),
    (d_csum, "not a dmosfs: bad checksum 0x"),
    (d_overlap, "not a dmosfs: inode bitmap at block 256 overlaps the journals (blocks 1..256)"),
    (d_njournals, "not a dmosfs: 0 journals, not 1..64"),
]

CASES = [
    (d_claimed_twice, r"inode {f4}: block \d+ \(index 0\) is also in inode {f1}"),
    (d_nlink, r"inode {f1}: nlink is 2, but 1 entry names it"),
    (d_dir_nlink, r"inode {a}: nlink is 5, but a directory with 1 subdirectory has 3"),
    (d_block_bit, r"block bitmap: block \d+ is in use, but its bit is clear"),
    (d_leaked_bit, r"block bitmap: block 1023 is free, but its bit is set"),
    (d_inode_bit, r"inode bitmap: inode 200 is free, but its bit is set"),
    (d_free_inode, r'directory {a}: entry "f1" \(record \d+\) names inode 200, which is free'),
    (d_cycle, r'directory {c}: entry "loop" \(record \d+\) names directory {a}, its own '
              r'ancestor \(a cycle\)'),
    (d_named_twice, r'directory 1: entry "b-again" \(record \d+\) names directory {b}, '
                    r'already named in directory {a}'),
    (d_unreachable, r"inode {c}: directory not reachable from the root"),
    (d_bad_name, r'directory 1: entry "f/4" \(record \d+\) has a name that is not allowed'),
    (d_duplicate, r'directory 1: entry "f4" \(record \d+\) repeats a name of this directory'),
    (d_dotdot, r'directory {b}: "\.\." names inode 1 \(type 2\), not {a}'),
    (d_bad_mode, r"inode {f4}: mode 020644 is neither a file nor a directory"),
    (d_out_of_range, r"inode {f2}: block 1031 \(index 1\) is outside the data area"),
    (d_in_metadata, r"inode {f2}: block \d+ \(index 1\) is outside the data area"),
    (d_past_size, r"inode {f3}: block \d+ \(index 1\) is past its size 10"),
    (d_nblocks, r"inode {f3}: nblocks is 3, but its map holds 16"),
    (d_orphan, r"inode {f4}: an orphan \(nlink 0\): unlinked while open, or a write that "
               r"did not finish"),
    (d_root_gone, r"inode 1: the root directory is free"),
    (d_journal_damaged, r"journal 2: bad header checksum 0x[0-9a-f]{{8}} \(computed 0x[0-9a-f]{{8}}\)"),
]


@pytest.mark.parametrize("damage,line", SUPER_CASES, ids=[c[0].__name__ for c in SUPER_CASES])
def test_fsck_refuses_bad_superblock(damaged, damage, line):
    damage(damaged)
    for args in (("fsck", damaged.path), ("fsck", damaged.path, "--repair")):
        r = run(*args, tool=ASAN)
        assert r.returncode == 2, r.stdout + r.stderr
        assert r.stdout == "" and r.stderr.startswith(f"dmosfs: {damaged.path}: {line}")
        assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("damage,line", CASES, ids=[c[0].__name__ for c in CASES])
def test_fsck_finds_and_repairs(damaged, damage, line):
    import re

    names = {k: lookup(damaged, p) for k, p in (("a", "/a"), ("b", "/a/b"), ("c", "/a/b/c"),
                                                ("f1", "/a/f1"), ("f2", "/a/b/f2"),
                                                ("f3", "/f3"), ("f4", "/f4"))}
    damage(damaged)
    want = re.compile("^" + line.format(**names) + "$")
    r = run("fsck", damaged.path, tool=ASAN)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(want.match(x) for x in lines), r.stdout
    assert lines[-1].endswith("found (dmosfs fsck --repair repairs them)")
    r = run("fsck", damaged.path, "--repair", tool=ASAN)
    assert r.returncode == 1, r.stdout + r.stderr
    assert any(re.match(want.pattern[:-1] + "; ", x) for x in r.stdout.splitlines()), r.stdout
    assert "; not repaired" not in r.stdout and "remain after" not in r.stdout, r.stdout
    assert r.stdout.splitlines()[-1].startswith(f"{damaged.path}: now clean: ")
    fsck_clean(damaged.path, tool=ASAN)
    # the files the damage did not touch read back as they were written
    intact = {"/a/f1": b"one", "/a/b/f2": rand_bytes(9000, 11), "/f3": rand_bytes(60000, 12)}
    touched = {d_free_inode: "/a/f1", d_out_of_range: "/a/b/f2", d_in_metadata: "/a/b/f2",
               d_past_size: "/f3"}
    for path, data in intact.items():
        if damage is not d_root_gone and touched.get(damage) != path:
            r = subprocess.run([TOOL, "get", damaged.path, path, "-"], capture_output=True)
            assert r.returncode == 0 and r.stdout == data, (path, r.stderr)


def test_fsck_repairs_cycle_keeps_tree(damaged):
    d_cycle(damaged)
    run("fsck", damaged.path, "--repair", tool=ASAN)
    fsck_clean(damaged.path)
    assert ok("ls", damaged.path, "/a/b/c") == ""
    assert ok("get", damaged.path, "/a/f1", "-") == "one"


# ---------------------------------------------------------------------------
# Writes cut short: the tool kills itself before its n-th disk write
# (DMOSFS_CRASH_AT, a test hook in tools/fs/image.c).

def crash_every_write(base, tmp, args, check_after, step=1):
    """Run `dmosfs ARGS` on copies of @base killed at write 1, 1+step, ...
    until one finishes; fsck (--repair) each; return the fsck verdicts."""
    seen = []
    for n in range(1, 100000, step):
        img = str(tmp / "crash.img")
        shutil.copy(base, img)
        r = run(*[a if a != "IMG" else img for a in args], env={"DMOSFS_CRASH_AT": str(n)})
        if r.returncode == 0:
            break
        assert r.returncode == -9, (n, r.stdout, r.stderr)
        before = run("fsck", img)
        assert before.returncode in (0, 1), before.stdout + before.stderr
        rep = run("fsck", img, "--repair")
        assert rep.returncode == before.returncode, (before.stdout, rep.stdout)
        fsck_clean(img)
        check_after(img, n)
        seen.append(before.stdout)
    else:
        pytest.fail("the command never finished")
    return seen


def test_interrupted_put_is_replayed_or_never_happened(populated, tmp):
    data = rand_bytes(20000, 21)
    (tmp / "new").write_bytes(data)

    def check(img, n):
        r = subprocess.run([TOOL, "get", img, "/new", "-"], capture_output=True)
        assert r.stdout == data if r.returncode == 0 else "no such file" in r.stderr.decode()

    seen = crash_every_write(populated, tmp, ("put", "IMG", tmp / "new", "/new"), check)
    committed = [s for s in seen if "is committed but not written home" in s]
    assert committed and all(s.startswith("journal 7: transaction ") for s in committed)
    assert any(s.startswith(str(tmp / "crash.img") + ": clean") for s in seen)


@pytest.fixture(scope="module")
def tiny_journals(tmp_path_factory):
    """A 48 MiB image with journals of 8 blocks, and a 30 MiB file for it:
    a put or rm of that file takes several transactions."""
    d = tmp_path_factory.mktemp("tj")
    img = str(d / "tj.img")
    mkfs(img, "48M", "--journals", "2", "--journal-blocks", "8")
    (d / "big").write_bytes(rand_bytes(30 << 20, 23))
    return img, d / "big"


def test_interrupted_big_put_leaves_an_orphan(tiny_journals, tmp):
    img, big = tiny_journals
    data = big.read_bytes()
    empty = info(img)

    def check(img, n):
        r = subprocess.run([TOOL, "get", img, "/new", "-"], capture_output=True)
        assert r.stdout == data if r.returncode == 0 else b"no such file" in r.stderr
        assert info(img) == (empty if r.returncode else (empty[0] + 7680 + 9, 2))

    seen = crash_every_write(img, tmp, ("put", "IMG", big, "/new"), check, step=701)
    assert any("an orphan (nlink 0)" in s for s in seen)


def test_interrupted_rm_of_big_file(tiny_journals, tmp):
    img, big = tiny_journals
    full = str(tmp / "full.img")
    shutil.copy(img, full)
    ok("put", full, big, "/big")
    data = big.read_bytes()

    def check(img, n):
        r = subprocess.run([TOOL, "get", img, "/big", "-"], capture_output=True)
        assert r.stdout == data if r.returncode == 0 else b"no such file" in r.stderr
        if r.returncode:
            assert info(img) == (1, 1)

    seen = crash_every_write(full, tmp, ("rm", "IMG", "/big"), check, step=3)
    assert any("an orphan (nlink 0)" in s for s in seen)


def committed_put(base, tmp):
    """A copy of @base with a put of /new committed in journal 7, not written home."""
    (tmp / "new").write_bytes(b"journaled")
    for n in range(1, 100):
        img = str(tmp / "j.img")
        shutil.copy(base, img)
        r = run("put", img, tmp / "new", "/new", env={"DMOSFS_CRASH_AT": str(n)})
        assert r.returncode == -9
        h = Image(img).journal_head(7)
        if h["nblocks"]:
            return Image(img), h
    pytest.fail("no commit point found")


def test_committed_journal_replayed_by_fsck(populated, tmp):
    img, h = committed_put(populated, tmp)
    r = run("fsck", img.path, tool=ASAN)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == \
        f"journal 7: transaction {h['seq']} of {h['nblocks']} blocks is committed but not written home"
    r = run("info", img.path)
    assert f"journal 7   transaction {h['seq']} of {h['nblocks']} blocks, not written home" in r.stdout
    r = run("mkdir", img.path, "/x", "--slot", "0")
    assert r.returncode == 1 and "journal 7 holds a transaction not written home" in r.stderr
    r = run("fsck", img.path, "--repair", tool=ASAN)
    assert r.returncode == 1 and "; written home" in r.stdout
    fsck_clean(img.path)
    assert ok("get", img.path, "/new", "-") == "journaled"
    assert img.journal_head(7)["seq"] == h["seq"] + 1


def test_committed_journal_replayed_by_next_write(populated, tmp):
    img, h = committed_put(populated, tmp)
    r = run("mkdir", img.path, "/x")            # the same slot: finishes it first
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"dmosfs: {img.path}: journal 7: replayed transaction {h['seq']}: " \
                       f"{h['nblocks']} blocks\n"
    fsck_clean(img.path)
    assert ok("get", img.path, "/new", "-") == "journaled"


def test_torn_journal_is_not_replayed(populated, tmp):
    img, h = committed_put(populated, tmp)
    img.write((h["at"] + 2) * BLOCK + 17, b"\xff\x00")     # a logged block never landed
    r = run("fsck", img.path, tool=ASAN)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0].startswith(
        f"journal 7: transaction {h['seq']} of {h['nblocks']} blocks is torn (data checksum")
    r = run("fsck", img.path, "--repair", tool=ASAN)
    assert r.returncode == 1 and "; reset to empty" in r.stdout
    fsck_clean(img.path)
    r = run("get", img.path, "/new", "-")
    assert r.returncode == 1 and "no such file" in r.stderr


# ---------------------------------------------------------------------------
# Fuzz: random corruptions of a populated image, the sanitizer build.

def checked(r, what):
    assert r.returncode in (0, 1, 2), (what, r.returncode, r.stderr[-3000:])
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, (what, r.stderr[-3000:])
    return r.returncode


def test_fuzz_fsck_never_crashes(populated, tmp):
    base = Image(populated)
    s = base.super
    meta_end = s["data_start"] * BLOCK
    # the blocks that matter: superblock, journal headers, bitmaps, inode
    # table, and the directory and indirect blocks right after data_start
    regions = [(0, 256), (s["ibitmap_start"] * BLOCK, meta_end + 16 * BLOCK - s["ibitmap_start"] * BLOCK),
               (s["inode_start"] * BLOCK, 16 * INODE), (s["data_start"] * BLOCK, 8 * BLOCK)]
    regions += [((s["journal_start"] + j * s["journal_blocks"]) * BLOCK, 64)
                for j in range(s["njournals"])]
    # DMOSFS_FUZZ=SEED:ITERATIONS runs another, or a longer, loop
    seed, iterations = map(int, os.environ.get("DMOSFS_FUZZ", "20240601:300").split(":"))
    rng = random.Random(seed)
    img = Image(str(tmp / "fuzz.img"))
    statuses = {0: 0, 1: 0, 2: 0}
    for it in range(iterations):
        shutil.copy(populated, img.path)
        for _ in range(rng.randint(1, 6)):
            start, n = rng.choice(regions)
            off = start + rng.randrange(n)
            if rng.random() < 0.3:
                img.write(off, struct.pack("<I", rng.choice([0, 1, 2, 0xFFFFFFFF, rng.getrandbits(32),
                                                            s["data_start"] + rng.randrange(64)])))
            else:
                img.write(off, bytes([rng.getrandbits(8)]))
        if rng.random() < 0.3:                  # a superblock that checks out, with bad fields
            field = rng.choice(["ninodes", "nblocks", "ibitmap_blocks", "inode_blocks",
                                "data_start", "journal_blocks", "njournals", "bbitmap_blocks"])
            img.set_super(**{field: img.super[field] + rng.choice([-2, -1, 1, 2, 1000])
                             if img.super[field] > 2 else 1})
        what = f"iteration {it}"
        st = checked(run("fsck", img.path, tool=ASAN, timeout=20), what)
        statuses[st] += 1
        if it % 4 == 0:
            checked(run("ls", "-l", img.path, "/a", tool=ASAN, timeout=20), what + " ls")
            checked(run("get", img.path, "/f3", "/dev/null", tool=ASAN, timeout=20), what + " get")
        if st == 1:
            r = run("fsck", img.path, "--repair", tool=ASAN, timeout=20)
            assert checked(r, what + " repair") == 1, r.stdout
            assert "now clean" in r.stdout.splitlines()[-1], (what, r.stdout)
            assert checked(run("fsck", img.path, tool=ASAN, timeout=20), what + " after") == 0
            if it % 3 == 0:
                (tmp / "src").write_bytes(b"after the repair")
                checked(run("put", img.path, str(tmp / "src"), "/a/new", tool=ASAN), what + " put")
                assert checked(run("fsck", img.path, tool=ASAN), what + " put fsck") == 0
    # the loop exercised every verdict
    assert all(statuses.values()), statuses
