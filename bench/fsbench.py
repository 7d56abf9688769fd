"""The file system benchmarks (bench/run.py runs them; harness.py is what
they are written with): fs-read, fs-private, fs-seq, fs-latency, fs-meta,
as run.py's docstring describes them."""

import contextlib
import os
import random
import shutil
import subprocess
import tempfile

from harness import (MiB, NOTES, REPO, Cluster, fmt, note, params, parsed, program, say,
                     section, together, value, verdict_line, with_unit)

# --- the rounds ------------------------------------------------------------------
# Each boots on a fresh dmosfs image the host tool made before boot. The pool is
# FS_POOL for all of them: its page cache (16384 sets of 8 slots in 2G, as
# pool_pcache_sets() sizes it) then holds the 64 MiB file at about one page per
# set, so that nine of its pages rarely hash to one set (a full set evicts).

FS_POOL = "2G"
FS_DISK = "256M"
FS_HOME = os.path.join(REPO, "build", "bench")
BIG_MIB, BIG_SEED = 64, 64          # /big: 64 MiB of seeded random bytes
SEQ_MIB = 64                        # fs-seq: fsop seq's file
LAT_WRITES = 50                     # fs-latency: writes timed
META_FILES = 200                    # fs-meta: files per node (three ops each)
MOUNTED = r"node %d: fs: dmosfs 'bench' at / \((read-write|read-only)\), ([^\r\n]*)"
FSREAD = (r"fsread: \S+: (\d+) bytes, fnv1a64 ([0-9a-f]{16}), (\d+) us; disk reads (\d+) "
          r"\((\d+) bytes\), cache hits (\d+), misses (\d+), fills (\d+), fill waits (\d+), "
          r"evictions (\d+); (\d+) us in read")
FSREAD_KEYS = ("bytes", "hash", "us", "reads", "read_bytes", "hits", "misses", "fills", "waits",
               "evictions", "read_us")
SEQ = r"fsop: seq: (\d+) MiB, write ([\d.]+) MB/s, read ([\d.]+) MB/s"
META = r"fsop: meta: (\d+) files, (\d+) ops in ([\d.]+) s, (\d+) ops/s"
LAT = (r"fslat: \S+: (\d+) writes on node 0, read on node 2: delay median (-?[\d.]+) us, "
       r"p90 (-?[\d.]+) us, min (-?[\d.]+) us, max (-?[\d.]+) us; from the pwrite call "
       r"median (-?[\d.]+) us, p90 (-?[\d.]+) us; pwrite median ([\d.]+) us; reader polls "
       r"every ([\d.]+) us; clock sync rtt median ([\d.]+) us, offset ([-+][\d.]+) us, "
       r"drift ([-+]\d+) ppm; (\d+) torn reads")
# what the file system benchmarks need of a tree besides a disk: [(file, text)]
FS_NEEDS = {"fs-read": [("userland/bin/fsread.c", "us in read")],
            "fs-private": [("userland/bin/fsread.c", "us in read"),
                           ("fs/dmosfs.c", "fscache")],
            "fs-seq": [("userland/bin/fsop.c", '"seq"'), ("userland/bin/ubench.c", "memcpy_pool")],
            "fs-latency": [("userland/bin/fslat.c", "--reader")],
            "fs-meta": [("userland/bin/fsop.c", "[TAG]")]}


def dmosfs(*args):
    """Run the host tool build/tools/dmosfs; a failure ends the benchmarks."""
    r = subprocess.run([params.DMOSFS] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: dmosfs %s: %s" % (" ".join(map(str, args)),
                                                    (r.stdout + r.stderr).strip()))


@contextlib.contextmanager
def fs_disk(big=False, dirs=()):
    """A fresh FS_DISK dmosfs image in build/bench/, with /big (the same bytes
    every time) if big and the directories dirs; removed when done."""
    os.makedirs(FS_HOME, exist_ok=True)
    home = tempfile.mkdtemp(prefix="disk-%d-" % os.getpid(), dir=FS_HOME)
    try:
        img = os.path.join(home, "disk.img")
        dmosfs("mkfs", img, "--size", FS_DISK, "--label", "bench")
        if big:
            data = os.path.join(home, "big")
            with open(data, "wb") as f:
                f.write(random.Random(BIG_SEED).randbytes(BIG_MIB * MiB))
            dmosfs("put", img, data, "/big")
            os.unlink(data)
        for d in dirs:
            dmosfs("mkdir", img, d)
        yield img
    finally:
        shutil.rmtree(home, ignore_errors=True)


def fs_mounted(c):
    """Wait until every node mounted the disk; node 0's words on its cache."""
    lines = [c.wait_line(n, MOUNTED % n, timeout=60) for n in range(c.nodes)]
    return lines[0].group(2).strip()


def fsread(c, n):
    """fsread /big on node n: {FSREAD_KEYS: values} (us: its time, reads: disk requests)."""
    m = parsed(FSREAD, program(c, n, "fsread /big"), "fsread")
    r = dict(zip(FSREAD_KEYS, m.groups()))
    r = {k: v if k == "hash" else int(v) for k, v in r.items()}
    if r["bytes"] != BIG_MIB * MiB:
        raise SystemExit("bench: node %d read %d bytes of /big, not %d (logs in %s)"
                         % (n, r["bytes"], BIG_MIB * MiB, c.run_dir))
    return r


def same_bytes(reads):
    """Every read of /big saw the same bytes (fsread's hash)."""
    if len({r["hash"] for r in reads}) != 1:
        raise SystemExit("bench: the reads of /big hash differently: %s"
                         % ", ".join(r["hash"] for r in reads))


def fs_read_round(tree):
    """/big read on node 0 (cold: from the disk into the pool), then on node 2."""
    with fs_disk(big=True) as img, Cluster.bench(tree, "fsread", 3, disk=img,
                                                 pool=FS_POOL) as c:
        NOTES.setdefault((tree.key, "fs-read"), {})["cache"] = fs_mounted(c)
        cold = fsread(c, 0)
        warm = fsread(c, 2)
    same_bytes([cold, warm])
    return [("node 0 in read (cold)", cold["read_us"] / 1000, "ms", "lower"),
            ("node 0 with the hash", cold["us"] / 1000, "ms", "lower"),
            ("node 0 disk requests", cold["reads"], "requests", None),
            ("node 0 disk MiB", cold["read_bytes"] / MiB, "MiB", None),
            ("node 0 evictions", cold["evictions"], "pages", "lower"),
            ("node 2 in read (from the pool)", warm["read_us"] / 1000, "ms", "lower"),
            ("node 2 with the hash", warm["us"] / 1000, "ms", "lower"),
            ("node 2 disk requests", warm["reads"], "requests", "lower"),
            ("node 2 cache hits", warm["hits"], "pages", None),
            ("node 0 / node 2, in read", cold["read_us"] / max(warm["read_us"], 1), "x",
             "higher"),
            ("node 0 / node 2, with the hash", cold["us"] / max(warm["us"], 1), "x", "higher")]


def fs_private_round(tree):
    """Nodes 0, 1, 2 read /big in turn, with the shared cache, then with a
    private one per node (each on a fresh image with the same bytes)."""
    rows, reads, notes = [], [], NOTES.setdefault((tree.key, "fs-private"), {})
    for mode in ("shared", "private"):
        with fs_disk(big=True) as img, Cluster.bench(
                tree, "fs" + mode, 3, ("--fs-cache", mode), disk=img, pool=FS_POOL,
                mem="256M") as c:
            notes[mode] = fs_mounted(c)
            turn = [fsread(c, n) for n in range(3)]
        reads += turn
        for n, r in enumerate(turn):
            rows += [("%s: node %d read" % (mode, n), r["read_us"] / 1000, "ms", "lower"),
                     ("%s: node %d disk requests" % (mode, n), r["reads"], "requests", "lower")]
        rows += [("%s: disk requests" % mode, sum(r["reads"] for r in turn), "requests", "lower"),
                 ("%s: disk MiB" % mode, sum(r["read_bytes"] for r in turn) / MiB, "MiB",
                  "lower")]
    same_bytes(reads)
    if notes["private"] == notes["shared"]:
        say("fs-private: the nodes booted with fscache=private mounted as with the shared "
            "cache (%s): this kernel has no private cache yet" % notes["shared"])
    return rows


def fs_seq_round(tree):
    """fsop seq on one node, then ubench's memcpy into pool memory on it."""
    with fs_disk() as img, Cluster.bench(tree, "fsseq", 1, disk=img, pool=FS_POOL) as c:
        fs_mounted(c)
        seq = parsed(SEQ, program(c, 0, "fsop seq /seq %d" % SEQ_MIB), "fsop seq")
        pool = parsed(r"ubench: memcpy_pool ([\d.]+) MiB/s", program(c, 0, "ubench memcpy"),
                      "ubench memcpy_pool")
    write, read = (float(seq.group(i)) / 1.048576 for i in (2, 3))   # MB/s -> MiB/s
    memcpy = float(pool.group(1))
    return [("write + fsync", write, "MiB/s", "higher"), ("read", read, "MiB/s", "higher"),
            ("memcpy into pool memory", memcpy, "MiB/s", "higher"),
            ("write / memcpy", 100 * write / memcpy, "%", "higher"),
            ("read / memcpy", 100 * read / memcpy, "%", "higher")]


def fs_latency_round(tree):
    """fslat on node 0, its reader on node 2."""
    with fs_disk() as img, Cluster.bench(tree, "fslat", 3, disk=img, pool=FS_POOL) as c:
        fs_mounted(c)
        m = parsed(LAT, program(c, 0, "fslat /lat %d 2" % LAT_WRITES), "fslat")
    NOTES.setdefault((tree.key, "fs-latency"), {})["clock"] = \
        "node 2's clock %s us from node 0's, drifting %s ppm" % (m.group(11), m.group(12))
    return [(what, float(m.group(i)), "us", "lower") for i, what in (
        (2, "median"), (3, "p90"), (4, "min"), (5, "max"), (6, "from the call, median"),
        (7, "from the call, p90"), (8, "pwrite median"), (9, "reader's poll period"),
        (10, "clock sync round trip"))] + [("torn reads", int(m.group(13)), "reads", None)]


def fs_meta_round(tree):
    """fsop meta on node 0 alone; on all three at once, each in its own
    directory; then all three in one directory (names of their own)."""
    with fs_disk(dirs=("/m0", "/m1", "/m2", "/one")) as img, \
            Cluster.bench(tree, "fsmeta", 3, disk=img, pool=FS_POOL) as c:
        fs_mounted(c)
        alone = program(c, 0, "fsop meta /m0 %d" % META_FILES)
        own = together(c, {n: "fsop meta /m%d %d" % (n, META_FILES) for n in range(3)})
        one = together(c, {n: "fsop meta /one %d n%d" % (META_FILES, n) for n in range(3)})
    rate = lambda out: int(parsed(META, out, "fsop meta").group(4))  # noqa: E731
    rows = [("node 0 alone", rate(alone), "/s", "higher")]
    for what, outs in (("own directories", own), ("one directory", one)):
        rates = [rate(outs[n]) for n in range(3)]
        rows += [("%s, node %d" % (what, n), x, "/s", "higher") for n, x in enumerate(rates)]
        rows.append(("%s, total" % what, sum(rates), "/s", "higher"))
    return rows


# --- the figures --------------------------------------------------------------

def fig_fs_read(res, rounds):
    med = lambda m: res.median("fs-read", m)  # noqa: E731
    v = lambda m: value(res, "fs-read", m)  # noqa: E731
    ratio = med("node 0 / node 2, in read")
    return section(
        "Reading a file: from the disk, then from the pool",
        ["A %d MiB file put on a fresh disk image by the host tool before boot" % BIG_MIB,
         "(`dmosfs mkfs`, `dmosfs put`, `dmos up --disk-path`), 3 nodes, pool %s (the nodes"
         % FS_POOL,
         "mount it with \"%s\")." % note("fs-read", "cache"),
         "`fsread /big` (userland/bin/fsread.c) on node 0, then on node 2: the time spent",
         "in read(), the whole time with fsread's hash of every byte (the same work on both",
         "nodes), and the node's disk requests over the read; node 2 read the same bytes",
         "(the hashes agree). An eviction is a page the cold read pushed out of a full set:",
         "the warm read reads it from the disk again."],
        ["read", "in read()", "with the hash", "disk requests", "disk read",
         "evictions / cache hits"],
        [("node 0, cold", v("node 0 in read (cold)"), v("node 0 with the hash"),
          fmt(med("node 0 disk requests"), ""), v("node 0 disk MiB"),
          "%s evictions" % fmt(med("node 0 evictions"), "")),
         ("node 2, from the pool", v("node 2 in read (from the pool)"),
          v("node 2 with the hash"), fmt(med("node 2 disk requests"), ""), "",
          "%s hits" % fmt(med("node 2 cache hits"), ""))]) + [
        "", "Node 2 read %s as fast as node 0 (%s with the hash). %s" % (
            with_unit(fmt(ratio, "x"), "x"), v("node 0 / node 2, with the hash"), verdict_line(
                med("node 2 disk requests") == 0 and ratio >= 10, "node 2 makes 0 disk "
                "requests and reads at least 10x faster than the cold read"))]


def fig_fs_private(res, rounds):
    med = lambda m: res.median("fs-private", m)  # noqa: E731
    v = lambda m: value(res, "fs-private", m)  # noqa: E731
    rows = []
    for what in ["node %d read" % n for n in range(3)] + \
            ["node %d disk requests" % n for n in range(3)] + ["disk requests", "disk MiB"]:
        s, p = med("shared: " + what), med("private: " + what)
        rows.append((what, v("shared: " + what), v("private: " + what),
                     "%.2f" % (p / s) if s else "-"))
    shared, private = note("fs-private", "shared"), note("fs-private", "private")
    took = ["The nodes mounted the disk with \"%s\" and \"%s\"." % (shared, private)] \
        if private != shared else [
            "Both runs' nodes mounted the disk alike (\"%s\"): the kernel" % shared,
            "took no notice of `fscache=private`, so both columns measure the shared cache."]
    once = med("shared: node 1 disk requests") == med("shared: node 2 disk requests") == 0
    thrice = all(med("private: node %d disk requests" % n) >=
                 0.99 * med("shared: node 0 disk requests") for n in range(3))
    return section(
        "Three nodes read one file: shared cache against private caches",
        ["The same %d MiB file on a fresh image for each run, 3 nodes with 256M each, pool %s;"
         % (BIG_MIB, FS_POOL),
         "nodes 0, 1, 2 read it in turn (`fsread /big`; the time is its time in read()), once",
         "with the cache in the pool (`dmos up`), once with a private cache per node",
         "(`dmos up --fs-cache private`: `fscache=private` on every kernel's command line),",
         "in the same run."] + took,
        ["", "shared", "private", "private / shared"], rows) + [
        "", verdict_line(once and thrice, "the shared cache reads the disk once, the private "
                         "one three times")]


def fig_fs_seq(res, rounds):
    v = lambda m: value(res, "fs-seq", m)  # noqa: E731
    return section(
        "Sequential throughput of one node",
        ["`fsop seq /seq %d` (userland/bin/fsop.c) on a 1-node cluster, pool %s: %d MiB"
         % (SEQ_MIB, FS_POOL, SEQ_MIB),
         "written in 1 MiB writes and fsync'ed, then read back (from the page cache: the",
         "pages it just wrote); against `ubench memcpy`'s copy into pool memory on the same",
         "node, in the same run."],
        ["", "throughput", "of memcpy into the pool"],
        [("write + fsync", v("write + fsync"), v("write / memcpy")),
         ("read", v("read"), v("read / memcpy")),
         ("memcpy into pool memory", v("memcpy into pool memory"), "100 %")])


def fig_fs_latency(res, rounds):
    v = lambda m: value(res, "fs-latency", m)  # noqa: E731
    return section(
        "From a write on one node to a read on another",
        ["`fslat /lat %d 2` (userland/bin/fslat.c) on node 0 of 3: %d pwrites of a 16-byte"
         % (LAT_WRITES, LAT_WRITES),
         "record, one at a time; its reader on node 2 polls the file (pread, dm_yield) and",
         "the delay is from node 0's pwrite returning to node 2's first pread showing the",
         "record, read on each node's TSC clock (dm_now_ns), put on one time line by a",
         "ping-pong through a shared segment before and after every write (the wall clock,",
         "dm_time_ns, starts at the RTC's second: nodes disagree by up to 1 s). The delay",
         "includes up to one poll period; below 0 the reader saw the bytes before pwrite",
         "returned (\"from the call\": the same from node 0 calling pwrite). The offset is",
         "wrong by at most half the sync round trip. Clocks: %s." % note("fs-latency", "clock")],
        ["delay", "value"],
        [(m, v(m)) for m in ("median", "p90", "min", "max", "from the call, median",
                             "from the call, p90", "pwrite median", "reader's poll period",
                             "clock sync round trip", "torn reads")])


def fig_fs_meta(res, rounds):
    v = lambda m: value(res, "fs-meta", m)  # noqa: E731
    return section(
        "Metadata operations",
        ["`fsop meta DIR %d` (userland/bin/fsop.c): create %d empty files, stat each,"
         % (META_FILES, META_FILES),
         "unlink each; operations per second, 3 nodes, pool %s. Alone on node 0, then on" % FS_POOL,
         "all three at once, each in its own directory, then all three in one directory",
         "(names of their own: the directory's blocks and lock are shared)."],
        ["run", "node 0", "node 1", "node 2", "total"],
        [("node 0 alone", v("node 0 alone"), "", "", v("node 0 alone"))] +
        [(what,) + tuple(v("%s, node %d" % (what, n)) for n in range(3)) +
         (v("%s, total" % what),) for what in ("own directories", "one directory")])


ROUNDS = [("fs-read", fs_read_round), ("fs-private", fs_private_round),
          ("fs-seq", fs_seq_round), ("fs-latency", fs_latency_round), ("fs-meta", fs_meta_round)]
FIGURES = {"fs-read": fig_fs_read, "fs-private": fig_fs_private, "fs-seq": fig_fs_seq,
           "fs-latency": fig_fs_latency, "fs-meta": fig_fs_meta}
TITLES = {"fs-read": "Reading a file from the disk, then from the pool",
          "fs-private": "Three nodes read one file: shared and private caches",
          "fs-seq": "Sequential throughput of one node",
          "fs-latency": "From a write on one node to a read on another",
          "fs-meta": "Metadata operations per second"}
