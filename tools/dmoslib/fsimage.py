"""Which file an inode number is: the paths of a dmosfs image, read on the host.

The page cache in the pool tags a file's pages with the file's inode number
(fs/pcache.h); `dmos pool --disk-path IMAGE` names those files by walking the
directory tree of the cluster's disk image. fs/format.h is the contract for
the bytes: a superblock in block 0, the inode table at inode_start, and
directories as files of 128-byte records whose blocks a block map finds
(FS_NDIRECT direct blocks, an indirect and a double indirect block).

paths() reads the image read-only, as it is on the disk: metadata a node has
changed in the cache and not written back yet is not seen, and a file system
being written meanwhile may show a path that was just renamed. An image that
is not a dmosfs, or whose tree is damaged, raises FsImageError with one
sentence saying why (build/tools/dmosfs fsck says more).
"""

import os
import struct

FS_MAGIC = 0x3153464F534D4444           # b"DDMOSFS1"
FS_VERSION = 1
FS_BLOCK = 4096
FS_INODE_SIZE = 256
FS_NDIRECT = 12
FS_PER_BLOCK = FS_BLOCK // 4
FS_S_IFMT, FS_S_IFDIR = 0o170000, 0o040000
SUPER_FMT = struct.Struct("<QIIIIII16sIIIIIIIIIIIIQ32s116sI")    # struct fs_super
INODE_FMT = struct.Struct("<HHIQQQQII12III152x")                # struct fs_inode
DIRENT_FMT = struct.Struct("<IBBH120s")                         # struct fs_dirent
SUPER_FIELDS = ("magic", "version", "block_size", "feature_compat", "feature_ro_compat",
                "feature_incompat", "nblocks", "uuid", "ninodes", "njournals",
                "journal_blocks", "journal_start", "ibitmap_start", "ibitmap_blocks",
                "bbitmap_start", "bbitmap_blocks", "inode_start", "inode_blocks",
                "data_start", "root_ino", "mkfs_time", "label", "reserved", "csum")
assert SUPER_FMT.size == FS_INODE_SIZE and INODE_FMT.size == FS_INODE_SIZE
assert DIRENT_FMT.size == 128


class FsImageError(Exception):
    """The image cannot be read as a dmosfs; str() says why."""


class _Image:
    def __init__(self, fd, path):
        self.fd, self.path = fd, path
        raw = self.block(0, "the superblock")
        sb = dict(zip(SUPER_FIELDS, SUPER_FMT.unpack_from(raw)))
        if sb["magic"] != FS_MAGIC:
            raise FsImageError("%s is not a dmosfs image (bad magic 0x%016x)"
                               % (path, sb["magic"]))
        if sb["version"] != FS_VERSION or sb["block_size"] != FS_BLOCK:
            raise FsImageError("%s: dmosfs version %d with %d-byte blocks, want version %d "
                               "with %d" % (path, sb["version"], sb["block_size"],
                                            FS_VERSION, FS_BLOCK))
        per = FS_BLOCK // FS_INODE_SIZE
        if not (0 < sb["root_ino"] < sb["ninodes"] <= sb["inode_blocks"] * per and
                sb["inode_start"] + sb["inode_blocks"] <= sb["data_start"] <= sb["nblocks"]):
            raise FsImageError("%s: damaged dmosfs superblock (root inode %d of %d, inode "
                               "table at block %d, data at %d of %d blocks)" % (
                                   path, sb["root_ino"], sb["ninodes"], sb["inode_start"],
                                   sb["data_start"], sb["nblocks"]))
        self.sb = sb

    def block(self, b, what):
        data = os.pread(self.fd, FS_BLOCK, b * FS_BLOCK)
        if len(data) < FS_BLOCK:
            raise FsImageError("%s ends inside %s (block %d)" % (self.path, what, b))
        return data

    def inode(self, ino):
        if not 0 < ino < self.sb["ninodes"]:
            raise FsImageError("%s: a directory names inode %d, outside 1..%d"
                               % (self.path, ino, self.sb["ninodes"] - 1))
        per = FS_BLOCK // FS_INODE_SIZE
        raw = self.block(self.sb["inode_start"] + ino // per, "the inode table")
        v = INODE_FMT.unpack_from(raw, ino % per * FS_INODE_SIZE)
        return dict(mode=v[0], size=v[3], direct=v[9:9 + FS_NDIRECT],
                    indirect=v[9 + FS_NDIRECT], dindirect=v[10 + FS_NDIRECT])

    def _entry(self, table, i, ino):
        if not table:
            return 0
        if not self.sb["data_start"] <= table < self.sb["nblocks"]:
            raise FsImageError("%s: inode %d maps block %d, outside the data blocks"
                               % (self.path, ino, table))
        return struct.unpack_from("<I", self.block(table, "a map block"), i * 4)[0]

    def bmap(self, di, ino, i):
        """The disk block of page i of inode ino (0: a hole)."""
        if i < FS_NDIRECT:
            return di["direct"][i]
        i -= FS_NDIRECT
        if i < FS_PER_BLOCK:
            return self._entry(di["indirect"], i, ino)
        i -= FS_PER_BLOCK
        return self._entry(self._entry(di["dindirect"], i // FS_PER_BLOCK, ino),
                           i % FS_PER_BLOCK, ino)

    def entries(self, ino, di):
        """(name, ino, is_dir) of directory ino's records, "." and ".." left out."""
        for page in range(di["size"] // FS_BLOCK):
            b = self.bmap(di, ino, page)
            if not b:
                continue
            if not self.sb["data_start"] <= b < self.sb["nblocks"]:
                raise FsImageError("%s: directory inode %d maps block %d, outside the "
                                   "data blocks" % (self.path, ino, b))
            raw = self.block(b, "a directory")
            for off in range(0, FS_BLOCK, DIRENT_FMT.size):
                child, typ, n, _, name = DIRENT_FMT.unpack_from(raw, off)
                name = name[:n].decode("utf-8", "backslashreplace")
                if child and name not in (".", ".."):
                    yield name, child, typ == 2


def paths(image, want=None):
    """{inode: path} of the files and directories of the dmosfs at image (a file or
    block device); want: the inode numbers to name (the walk stops when it has
    them all), None for every one. A file with several names gets the first the
    walk meets, breadth first."""
    try:
        fd = os.open(image, os.O_RDONLY)
    except OSError as e:
        raise FsImageError("cannot open disk image %s: %s" % (image, e.strerror)) from None
    try:
        img = _Image(fd, image)
        root = img.sb["root_ino"]
        out, todo, seen = {root: "/"}, [(root, "/")], {root}
        want = None if want is None else set(want) - {root}
        while todo and (want is None or want - set(out)):
            ino, path = todo.pop(0)
            di = img.inode(ino)
            if di["mode"] & FS_S_IFMT != FS_S_IFDIR:
                continue                        # a record's type said directory
            for name, child, is_dir in img.entries(ino, di):
                full = path.rstrip("/") + "/" + name
                out.setdefault(child, full)
                if is_dir and child not in seen:       # a damaged tree may loop
                    seen.add(child)
                    todo.append((child, full))
        return out
    finally:
        os.close(fd)
