#!/usr/bin/python3
"""dmos benchmarks: boots real clusters and writes bench/RESULTS.md.

Run with `make bench`. Every figure comes from one run of this script on
this machine; ratios between figures are the thing to quote, since the
machines are shared and noisy. Progress goes to stderr as it runs.

  join N      time from `dmos up` to every node's "cluster up" line, for
              1, 3 and 8 nodes (best and median of several launches)
  frames      local frame alloc+free cost inside a node (bench=frames)
  palloc      pool page alloc+free per second, one node alone and three at once
  ping        message round trip between two nodes, with the doorbell and polled
  move        moving one translation block, at 4 KiB and at 2 MiB granularity
  drain       draining a 32 MiB region full of live pages while the cluster runs
  ubench      from a program: syscall round trip, context switch, page fault,
              memcpy into local and pool memory, 64 MiB handed between nodes
  region-fail a region holding a program's optional memory and another's vital
              memory fails: until every node noticed, the exception, the kill
  link-down   node 1 loses the pool: until it noticed, the exception, the kill,
              and until the others declared it dead
  fs-read     a 64 MiB file of the cluster file system read on node 0 (from the
              disk) and then on node 2 (from the page cache in the pool)
  fs-private  three nodes reading that file in turn, with the shared cache and
              with a private cache per node (`dmos up --fs-cache private`)
  fs-seq      one node's sequential write (with fsync) and read of 64 MiB, as a
              fraction of its memcpy into pool memory
  fs-latency  from a write returning on node 0 until node 2 reads the new bytes
  fs-meta     create, stat and unlink of small files, on one node and on three
              at once (each in its own directory, then all in one)
  net-vip     wrk against httpd on node 0 through the cluster IP and directly
  net-scale   wrk through the cluster IP at a CPU-bound handler, 1-3 servers
  net-failover  new connections to the cluster IP while a node's QEMU is killed
  net-bulk    64 MiB node to node over TCP against a shared segment

The harness the benchmarks are written with is bench/harness.py; the file
system's benchmarks are in bench/fsbench.py, the network's in
bench/netbench.py (its docstring says what each measures), the others here.

Names of benchmarks on the command line (`make bench ONLY="fs-read fs-meta"`)
run only those: RESULTS.md then keeps every other benchmark's section as it
was and replaces these, each saying the command and the day that made it.
The file system benchmarks boot on a fresh image the host tool made before
boot (build/tools/dmosfs mkfs and put, `dmos up --disk-path`), in
build/bench/, removed after the cluster.

`--baseline REV` compares this tree with revision REV in the same run.
REV is unpacked with `git archive` into build/baseline/<sha>/ (not a git
worktree: no branch, no entry in the repository's worktree list, the
user's checkout untouched; kept for the next run at the same revision,
any other revision there is removed first) and built there with its own
`make`, after seeding its build/newlib with this tree's when both trees
build newlib alike (the unpacked tree then sees it as built). Then every
benchmark runs for both trees interleaved, a baseline round, a current
round, a baseline round..., so that the machine's drift hits both; the
benchmarks that run once today run --rounds times for each tree there.

Both trees are driven by this tree's harness (dmoslib.drive and this
file), the baseline's nodes booting its ISO through `dmos up --iso`.
Running the baseline's own bench/run.py and parsing its RESULTS.md could
not interleave (it runs every benchmark to the end) and would time the
baseline with the baseline's harness; one harness times both the same way.
That works because the monitor commands and their output are the same in
both trees, the launcher's `--iso` is in both, and the QEMU command line
this launcher builds differs only by the shared disk (virtio-blk) it adds
by default: the current tree runs with `--no-disk` so that the comparison
is the cleanup's, and the join benchmark also launches it with its disk,
the one figure the disk changes (mkfs on the host, the driver's probe at
boot; the driver is idle after it). The file system benchmarks boot
both trees on an image of their own instead, and run for the baseline
only if its tree has the programs they drive (RESULTS.md says when it
had not). RESULTS.md then holds this tree's
figures as without --baseline (medians over the rounds), the load
average at start and end, and a side-by-side table per benchmark:
baseline, current, current/baseline and which way is better.

Every launch puts its gdb stubs in a port range picked by this process's
pid, away from the range `dmos up` gives this user by default (other
builds and tests on the machine use it), and takes the next range if a
port turns out to be taken.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import fsbench
import netbench
from harness import (NOTES, REPO, Cluster, Results, Tree, drive, fmt, in_ms, say, section,
                     value, verdict_line, with_unit)
from dmoslib.logwatch import until

RESULTS = os.path.join(REPO, "bench", "RESULTS.md")
BASELINE_HOME = os.path.join(REPO, "build", "baseline")


# --- the benchmarks: one round on one tree, as [(metric, value, unit, better)] ---
# better is "lower", "higher", or None for a count that should just be equal.

def join_round(n):
    def bench(tree):
        with Cluster.bench(tree, "join-%d" % n, n, pool="64M", timeout=60) as c:
            return [("%d node%s" % (n, "" if n == 1 else "s"), c.booted, "s", "lower")]
    return bench


def frames_round(tree):
    pat = re.compile(r"bench frames order (\d+): (\d+) ns per alloc\+free")
    with Cluster.bench(tree, "frames", 1, pool="64M", timeout=60,
                       node_args={0: "bench=frames"}) as c:
        if not until(lambda: len(pat.findall(c.log(0))) == 3, 60, 0.1):
            raise SystemExit("bench: node 0 printed no frame benchmark in 60 s (see %s)"
                             % c.run_dir)
        return [("order %s (%d KiB)" % (o, 4 << int(o)), int(ns), "ns", "lower")
                for o, ns in pat.findall(c.log(0))]


def palloc_round(tree):
    with Cluster.bench(tree, "palloc", 3) as c:
        alone = int(c.run([0], "bench palloc 3", r"node %d: bench palloc: (\d+) alloc")[0].group(1))
        three = [int(m.group(1)) for m in
                 c.run([0, 1, 2], "bench palloc 3", r"node %d: bench palloc: (\d+) alloc")]
    return [("node 0 alone", alone, "/s", "higher")] + \
        [("three at once, node %d" % n, x, "/s", "higher") for n, x in enumerate(three)] + \
        [("three at once, total", sum(three), "/s", "higher")]


def ping_round(tree):
    out = []
    for mode, extra in (("doorbell", ()), ("polled", ("--no-doorbell",))):
        with Cluster.bench(tree, "ping", 2, extra) as c:
            m = c.run([0], "ping 1 1000", r"node %d -> 1: 1000 round trips, min (\d+) us, "
                      r"avg (\d+) us, max (\d+) us")[0]
        out += [("%s %s" % (mode, what), int(x), "us", "lower")
                for what, x in zip(("min", "avg", "max"), m.groups())]
    return out


def move_round(tree):
    out = []
    for gran, count in (("4k", 200), ("2m", 20)):
        with Cluster.bench(tree, "move", 2, ("--node-arg", "all:xlate=" + gran)) as c:
            m = c.run([0], "bench move %d" % count, r"node %d: bench move: \d+ moves of (\d+) KiB, "
                      r"(\d+) us each, worst (\d+) us \((-?\d+)\)")[0]
        if m.group(4) != "0":
            raise SystemExit("bench: move failed: " + m.group(0))
        out += [("%s KiB per move" % m.group(1), int(m.group(2)), "us", "lower"),
                ("%s KiB worst" % m.group(1), int(m.group(3)), "us", "lower")]
    return out


def drain_round(tree):
    with Cluster.bench(tree, "drain", 3) as c:
        c.run([1], "hold 16000", r"node %d: hold: \d+ pool pages taken")
        before = c.moves()
        m = c.run([0], "drain 1", r"node %d: drain: region 1 (\S+) in (\d+) ms \((-?\d+)\)")[0]
        if m.group(1) != "offline":
            raise SystemExit("bench: drain failed: " + m.group(0))
        after = c.moves()
        bad = c.run([1], "release", r"node %d: release: \d+ pool pages freed, (\d+) bad")[0]
        if bad.group(1) != "0":
            raise SystemExit("bench: pages lost their data in the drain")
    return [("drain region 1", int(m.group(2)), "ms", "lower"),
            ("blocks moved", after - before, "blocks", None)]


def ubench_round(tree):
    with Cluster.bench(tree, "ubench", 2) as c:
        rows = []
        for line in ("ubench", "ubench handoff"):
            m = c.run([0], "run " + line, r"node %d: run: ubench \(pid \d+\) exited with status (\d+)")[0]
            if m.group(1) != "0":
                raise SystemExit("bench: `%s` failed (see %s)" % (line, c.run_dir))
            rows += re.findall(r"^ubench: ([a-z_]+) ([\d.]+) (\S+)", c.log(0), re.M)
    seen, out = set(), []
    for name, figure, unit in rows:
        if name not in seen:
            seen.add(name)
            out.append((name, float(figure), unit, "higher" if unit.endswith("/s") else "lower"))
    return out


def region_fail_round(tree):
    """Host time from the injection to each reaction, seen in the node logs (5 ms polls)."""
    with Cluster.bench(tree, "fail", 3, ("--node-arg", "all:region=8")) as c:
        ready = r"lossy: pid (\d+): .* ready"
        opt = int(c.run([0], "spawn lossy 4", ready)[0].group(1))
        vital = int(c.run([1], "spawn lossy --vital 4", ready)[0].group(1))
        regions = {reg["region"] for reg in c.inspect()["regions"]
                   if str(opt) in reg["used_by_pid"] or str(vital) in reg["used_by_pid"]}
        if len(regions) != 1:
            raise SystemExit("bench: the two programs' pages span regions %s" % sorted(regions))
        region = regions.pop()
        marks = [c.mark(n) for n in range(3)]
        _, t0 = c.fail_region(region)
        waits = {n: (n, r"node %d: region %d failed" % (n, region), marks[n]) for n in range(3)}
        waits["exception"] = (0, r"pid %d \(lossy\) lost .*: exception raised" % opt, marks[0])
        waits["killed"] = (1, r"pid %d \(lossy\) killed: vital memory lost" % vital, marks[1])
        found = c.watch(waits, timeout=30, poll=0.005)
        if len(found) != len(waits):
            raise SystemExit("bench: region failure: missing %s (see %s)"
                             % (sorted(set(waits) - set(found), key=str), c.run_dir))
    return [("noticed", max(found[n][1] for n in range(3)) - t0),
            ("exception", found["exception"][1] - t0),
            ("killed", found["killed"][1] - t0)]


def link_down_round(tree):
    """Host time from the NMI to each reaction, seen in the node logs (5 ms polls)."""
    with Cluster.bench(tree, "link", 3) as c:
        ready = r"lossy: pid (\d+): .* ready"
        opt = int(c.run([1], "spawn lossy 4", ready)[0].group(1))
        vital = int(c.run([1], "spawn lossy --vital 4", ready)[0].group(1))
        marks = [c.mark(n) for n in range(3)]
        t0 = c.fail_link(1)
        waits = {"noticed": (1, r"node 1: lost the pool", marks[1]),
                 "exception": (1, r"pid %d \(lossy\) lost .*: exception raised" % opt, marks[1]),
                 "killed": (1, r"pid %d \(lossy\) killed: vital memory lost" % vital, marks[1])}
        for n in (0, 2):
            waits[n] = (n, r"node %d: node 1 (declared dead|is dead)" % n, marks[n])
        found = c.watch(waits, timeout=30, poll=0.005)
        if len(found) != len(waits):
            raise SystemExit("bench: link down: missing %s (see %s)"
                             % (sorted(set(waits) - set(found), key=str), c.run_dir))
    return [(what, found[what][1] - t0) for what in ("noticed", "exception", "killed")] + \
        [("declared", min(found[n][1] for n in (0, 2)) - t0)]


def schedule(rounds, repeat):
    """(group, round function, rounds) in the order they run; repeat is how
    often the benchmarks of a single run today run for each tree."""
    return [("join", join_round(n), rounds) for n in (1, 3, 8)] + [
        ("frames", frames_round, repeat), ("palloc", palloc_round, repeat),
        ("ping", ping_round, repeat), ("move", move_round, repeat),
        ("drain", drain_round, repeat), ("ubench", ubench_round, repeat),
        ("region-fail", in_ms(region_fail_round), rounds),
        ("link-down", in_ms(link_down_round), rounds)] + [
        (group, fn, repeat) for group, fn in fsbench.ROUNDS] + [
        (group, fn, rounds if many else repeat) for group, fn, many in netbench.ROUNDS]


# what a tree's source must hold for a benchmark: [(file, text)]
NEEDS = {**fsbench.FS_NEEDS, **netbench.NEEDS}
GROUPS = list(dict.fromkeys(g for g, _, _ in schedule(1, 1)))


def run_all(trees, rounds, repeat, extra_trees, only):
    """The benchmarks of the groups only, their rounds interleaved across
    trees; extra_trees: {group: [trees that run that benchmark too]}. A tree
    whose source lacks what a file system benchmark needs skips it (said in
    NOTES)."""
    res = Results()
    for group, fn, count in schedule(rounds, repeat):
        if group not in only:
            continue
        able = []
        for tree in trees + extra_trees.get(group, []):
            why = tree.lacks(NEEDS.get(group, []))
            if why:
                say("%s %s: skipped, the tree has %s" % (tree.label, group, why))
                NOTES.setdefault((tree.key, group), {})["skipped"] = why
            else:
                able.append(tree)
        for r in range(count):
            for tree in able:
                t0 = time.monotonic()
                rows = fn(tree)
                res.add(tree, group, rows)
                say("%s %s, round %d/%d (%.0f s): %s" % (
                    tree.label, group, r + 1, count, time.monotonic() - t0, ", ".join(
                        "%s %s" % (m, with_unit(fmt(v, u), u)) for m, v, u, _ in rows[:4])))
    return res


# --- the baseline ------------------------------------------------------------

def git(*args):
    r = subprocess.run(["git", "-C", REPO] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: git %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


def newlib_recipe(tree):
    """The newlib part of a tree's userland/Makefile: seeding build/newlib
    is sound only when both trees build it alike."""
    with open(os.path.join(tree, "userland", "Makefile")) as f:
        text = f.read()
    start, end = text.find("# ---- newlib"), text.find("# ---- our libraries")
    return text[start:end] if 0 <= start < end else None


def seed_newlib(home):
    """Copy this tree's built newlib (install tree and the userland Makefile's
    stamps, times kept) into home unless it has one; True if copied."""
    src, dst = os.path.join(REPO, "build", "newlib"), os.path.join(home, "build", "newlib")
    if os.path.exists(os.path.join(dst, ".built")) or \
            not os.path.exists(os.path.join(src, ".built")):
        return False
    recipe = newlib_recipe(REPO)
    if recipe is None or recipe != newlib_recipe(home):
        return False
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(src, "install"), os.path.join(dst, "install"), symlinks=True)
    for stamp in ("src/.unpacked", "obj/.configured", ".built"):   # in the order make made them
        os.makedirs(os.path.dirname(os.path.join(dst, stamp)), exist_ok=True)
        shutil.copy2(os.path.join(src, stamp), os.path.join(dst, stamp))
    return True


def prepare_baseline(rev):
    """Unpack rev into build/baseline/<sha>/ (unless it is there) and build it;
    returns (its ISO, sha)."""
    sha = git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
    home = os.path.join(BASELINE_HOME, sha)
    os.makedirs(BASELINE_HOME, exist_ok=True)
    for old in os.listdir(BASELINE_HOME):       # other revisions, a half-made unpack
        if old != sha:
            say("removing build/baseline/%s" % old)
            shutil.rmtree(os.path.join(BASELINE_HOME, old))
    if not os.path.isdir(home):
        say("unpacking %s into %s" % (sha[:12], os.path.relpath(home, REPO)))
        tmp = home + ".tmp"
        os.makedirs(tmp)
        archive = subprocess.Popen(["git", "-C", REPO, "archive", "--format=tar", sha],
                                   stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout)
        archive.stdout.close()
        if archive.wait() != 0 or tar.returncode != 0:
            raise SystemExit("bench: could not unpack %s into %s" % (sha, tmp))
        os.rename(tmp, home)
    if seed_newlib(home):
        say("seeded the baseline's build/newlib with this tree's")
    say("building the baseline (make -C %s)" % os.path.relpath(home, REPO))
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if subprocess.run(["make", "-C", home, "-j2"], env=env, stdout=sys.stderr).returncode != 0:
        raise SystemExit("bench: the baseline %s does not build (in %s)" % (rev, home))
    iso = os.path.join(home, "build", "dmos.iso")
    if not os.path.exists(iso):
        raise SystemExit("bench: the baseline's make made no %s" % iso)
    return iso, sha


# --- RESULTS.md ----------------------------------------------------------------


# This tree's figures, a function per benchmark group: (res, rounds) -> lines.

def fig_join(res, rounds):
    join = [(n, min(res.of("current", "join", m)), res.median("join", m))
            for n, m in zip((1, 3, 8), res.metrics("join"))]
    return section(
        "Launch to all joined",
        ["Wall time from `dmos up --detach` to every node's `cluster up` line",
         "(QEMU start, SeaBIOS, GRUB, kernel boot, pool format/join). Target: 8 nodes < 3 s."],
        ["nodes", "best", "median"],
        [(n, "%.2f s" % best, "%.2f s" % m) for n, best, m in join])


def fig_frames(res, rounds):
    return section(
        "Local frame allocator",
        ["One frame_alloc + frame_free pair inside a node (buddy allocator, TSC timed)."],
        ["order", "block", "ns per alloc+free"],
        [re.fullmatch(r"order (\d+) \((.*)\)", m).groups() + (fmt(res.median("frames", m), "ns"),)
         for m in res.metrics("frames")])


def fig_palloc(res, rounds):
    med = lambda m: res.median("palloc", m)  # noqa: E731
    per = ", ".join("%s/s" % fmt(med("three at once, node %d" % n), "/s") for n in range(3))
    return section(
        "Pool page allocator",
        ["palloc_alloc + palloc_free pairs per second (`bench palloc 3` on the monitor),",
         "per-node chunks, no cluster-wide lock on this path. Three nodes share 2 host cores."],
        ["run", "per node", "cluster total"],
        [("node 0 alone",) + ("%s/s" % fmt(med("node 0 alone"), "/s"),) * 2,
         ("three nodes at once", per, "%s/s" % fmt(med("three at once, total"), "/s"))])


def fig_ping(res, rounds):
    return section(
        "Messages between kernels",
        ["Request/reply round trip node 0 -> node 1 (`ping 1 1000`), 1000 in a row.",
         "Polled means ivshmem-plain: the receiver looks at its rings every 1 ms tick."],
        ["mode", "min", "avg", "max"],
        [(mode,) + tuple("%s us" % fmt(res.median("ping", "%s %s" % (mode, w)), "us")
                         for w in ("min", "avg", "max")) for mode in ("doorbell", "polled")])


def fig_move(res, rounds):
    med = lambda m: res.median("move", m)  # noqa: E731
    return section(
        "Moving pool memory",
        ["One translation block moved (`bench move`): reserve a spare block, shoot down",
         "every node's mapping (a message round trip to each), copy, publish."],
        ["granularity", "per move", "worst"],
        [(m.split(" per ")[0], "%s us" % fmt(med(m), "us"),
          "%s us" % fmt(med(m.replace("per move", "worst")), "us"))
         for m in res.metrics("move") if m.endswith("per move")])


def fig_drain(res, rounds):
    return ["", "Draining region 1 (32 MiB) while node 1 holds 16000 pool pages: %s ms, %s blocks"
            " moved (4 KiB granularity, doorbell on); every moved page kept its data."
            % (fmt(res.median("drain", "drain region 1"), "ms"),
               fmt(res.median("drain", "blocks moved"), ""))]


def fig_ubench(res, rounds):
    lines = section(
        "From a program",
        ["`ubench` (userland/bin/ubench.c) on node 0; `ubench handoff` copies 64 MiB into a",
         "new shared segment on node 0 (a 2 MiB aligned run of pool pages, mapped with 2 MiB",
         "pages), a process it starts on node 1 attaches it and copies all of it out (both",
         "1 MiB at a time through local memory; the checksums proving it arrived are left",
         "out); in the same run, `handoff_memcpys` is one memcpy of 64 MiB into pool memory",
         "already in place and one out of it, the same way. `handoff` is the best of three",
         "handoffs after a first one (`handoff_cold`: the pool pages' first touch on the host,",
         "section 13 of docs/design.md). A new segment zeroes only the pages the allocator does",
         "not know to be zero: each handoff's last detach zeroes its pages, after the handoff",
         "is timed and before the next one (docs/design.md, section 4, mm/)."],
        ["measure", "value"],
        [(m, "%s %s" % (fmt(res.median("ubench", m), res.meta["ubench", m][0]),
                        res.meta["ubench", m][0])) for m in res.metrics("ubench")])
    if ("ubench", "handoff_ratio") not in res.meta:
        return lines
    ratio = res.median("ubench", "handoff_ratio")
    return lines + ["", "The handoff against two memcpys of 64 MiB, side by side: %s against %s, "
                    "%s (the median of the rounds' ratios). %s" % (
                        value(res, "ubench", "handoff"), value(res, "ubench", "handoff_memcpys"),
                        with_unit(fmt(ratio, "x"), "x"),
                        verdict_line(ratio <= 1.5, "the handoff within 1.5x of two memcpys"))]


def reaction(res, group, what):
    return ("%.0f ms" % res.median(group, what), "%.0f ms" % max(res.of("current", group, what)))


def fig_region_fail(res, rounds):
    return section(
        "Region failure",
        ["A region holding 4 MiB of node 0's optional memory and 4 MiB of node 1's vital",
         "memory fails (`drive.fail_region`, the injector of `dmos fail-region`); host time",
         "from its last store to each reaction on the node consoles, read every 5 ms;",
         "%d rounds, a fresh 3-node cluster each." % rounds],
        ["reaction", "median", "worst"],
        [(text,) + reaction(res, "region-fail", what) for what, text in (
            ("noticed", "every node said the region failed"),
            ("exception", "node 0's program took the exception"),
            ("killed", "node 1's program was killed"))])


def fig_link_down(res, rounds):
    return section(
        "A node loses the pool",
        ["Node 1, running a program with 4 MiB of optional pool memory and one with 4 MiB",
         "of vital pool memory, loses its link (`drive.fail_link`, as `dmos fail-link`:",
         "link_down in its node-table entry, then an NMI); host time from the NMI to each",
         "reaction on the consoles, read every 5 ms; %d rounds, a fresh 3-node cluster each."
         % rounds,
         "The others declare it dead after dead_after (2 s) without a heartbeat."],
        ["reaction", "median", "worst"],
        [(text,) + reaction(res, "link-down", what) for what, text in (
            ("noticed", "node 1 said it lost the pool"),
            ("exception", "its optional-memory program took the exception"),
            ("killed", "its vital-memory program was killed"),
            ("declared", "another node declared node 1 dead"))])


FIGURES = {"join": fig_join, "frames": fig_frames, "palloc": fig_palloc, "ping": fig_ping,
           "move": fig_move, "drain": fig_drain, "ubench": fig_ubench,
           "region-fail": fig_region_fail, "link-down": fig_link_down, **fsbench.FIGURES,
           **netbench.FIGURES}

GROUP_TITLES = {"join": "Launch to all joined", "frames": "Local frame allocator (ns per "
                "alloc+free)", "palloc": "Pool page allocator (alloc+free pairs per second)",
                "ping": "Messages between kernels (round trip)",
                "move": "Moving pool memory (one block)", "drain": "Draining a region",
                "ubench": "From a program", "region-fail": "Region failure (host time to "
                "the reaction)", "link-down": "A node loses the pool (host time to the reaction)",
                **fsbench.TITLES, **netbench.TITLES}


def cell(values, unit):
    """A tree's figure for a metric: the median, and the range when there is one."""
    med = with_unit(fmt(statistics.median(values), unit), unit)
    if len(values) < 2:
        return med
    return "%s (%s-%s)" % (med, fmt(min(values), unit), fmt(max(values), unit))


def verdict(base, cur, better):
    """'better' or 'worse' when the two trees' ranges do not overlap, else
    'within noise'; '-' for counts and single samples."""
    if better is None or len(base) < 2 or len(cur) < 2:
        return "-"
    if min(cur) > max(base) or max(cur) < min(base):
        higher = statistics.median(cur) > statistics.median(base)
        return "better" if higher == (better == "higher") else "worse"
    return "within noise"


def side_by_side(res, trees, group):
    """The group's table: baseline, current (and current with its disk where
    that ran), the ratios to the baseline, which way is better."""
    others = [t for t in trees[1:] if any(res.of(t.key, group, m) for m in res.metrics(group))]
    headers = ["metric", "better", trees[0].label]
    for t in others:
        headers += [t.label, "%s / %s" % (t.label, trees[0].label), "verdict"]
    rows = []
    for m in res.metrics(group):
        unit, better = res.meta[group, m]
        base = res.of(trees[0].key, group, m)
        if not base:
            continue
        row = [m, better or "equal", cell(base, unit)]
        for t in others:
            cur = res.of(t.key, group, m)
            ratio = statistics.median(cur) / statistics.median(base) \
                if statistics.median(base) else float("nan")
            row += [cell(cur, unit), "%.2f" % ratio, verdict(base, cur, better)]
        rows.append(row)
    lines = ["", "### " + GROUP_TITLES[group], ""]
    skipped = NOTES.get((trees[0].key, group), {}).get("skipped")
    if skipped:
        return lines + ["The baseline did not run it: its tree has %s." % skipped]
    return lines + ["| %s |" % " | ".join(headers), "|%s" % ("---|" * len(headers))] + \
        ["| %s |" % " | ".join(row) for row in rows]


# Every group's part of RESULTS.md sits between two markers, so that a run of
# some of the benchmarks replaces their parts and leaves the others as they were.
BEGIN, END = "<!-- bench %s %s -->", "<!-- /bench %s %s -->"
SBS_HEADING = "## Side by side with the baseline"


def block(kind, group, lines):
    """lines marked as kind ("figures" or "baseline") of group."""
    return [BEGIN % (kind, group)] + lines + [END % (kind, group)]


def merge(old, blocks, sbs_head):
    """old (RESULTS.md's lines) with blocks, {(kind, group): marked lines}, in
    place of their old selves. A part old does not have goes after the last
    part of its kind (figures: else before the side-by-side part; baseline:
    else at the end, after sbs_head's lines if old has no side-by-side part).
    A group's old baseline part goes when blocks has its figures only: a
    group's two parts come from one run."""
    segs, i = [], 0                     # lines, and (key, lines) for each marked part
    while i < len(old):
        m = re.fullmatch(r"<!-- bench (figures|baseline) (\S+) -->", old[i])
        if not m:
            segs.append(old[i])
            i += 1
            continue
        end = old.index(END % m.groups(), i) + 1
        segs.append((m.groups(), old[i:end]))
        i = end
    keys = {seg[0] for seg in segs if isinstance(seg, tuple)}
    drop = {("baseline", g) for k, g in blocks if k == "figures"} - set(blocks)
    segs = [(seg[0], blocks.get(seg[0], seg[1])) if isinstance(seg, tuple) else seg
            for seg in segs if not (isinstance(seg, tuple) and seg[0] in drop)]
    for key in (k for k in blocks if k not in keys):
        ours = [j for j, seg in enumerate(segs) if isinstance(seg, tuple) and seg[0][0] == key[0]]
        heading = [j for j, seg in enumerate(segs)
                   if isinstance(seg, str) and seg.startswith(SBS_HEADING)]
        if ours:
            at = ours[-1] + 1
        elif key[0] == "figures" and heading:
            at = heading[0] - (segs[heading[0] - 1] == "")
        else:
            if key[0] == "baseline" and not heading:
                segs += sbs_head
            at = len(segs)
        segs.insert(at, (key, blocks[key]))
    return [line for seg in segs for line in (seg[1] if isinstance(seg, tuple) else [seg])]


def describe(rev):
    return git("log", "-1", "--format=%h (%s)", rev)


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("benchmarks", nargs="*", metavar="BENCHMARK",
                    help="run only these (default: all of them): %s" % ", ".join(GROUPS))
    ap.add_argument("--rounds", type=int, default=5,
                    help="launches per cluster size and per failure benchmark; with "
                    "--baseline also the runs of every other benchmark, for each tree")
    ap.add_argument("--baseline", metavar="REV",
                    help="also build revision REV under build/baseline/ and run every "
                    "benchmark for both trees, interleaved; RESULTS.md gets the ratios")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    unknown = [b for b in args.benchmarks if b not in GROUPS]
    if unknown:
        ap.error("no benchmark %s; there are %s" % (", ".join(map(repr, unknown)),
                                                     ", ".join(GROUPS)))
    only = [g for g in GROUPS if g in args.benchmarks] or GROUPS

    start, load_start = time.monotonic(), loadavg()
    if args.baseline:
        iso, sha = prepare_baseline(args.baseline)
        trees = [Tree("base", "baseline", iso, ("--no-disk",),
                      root=os.path.join(BASELINE_HOME, sha)),
                 Tree("current", "current", None, ("--no-disk",))]
        extra = {"join": [Tree("disk", "current+disk")]}
        repeat = args.rounds
    else:
        trees, extra, repeat = [Tree("current", "current")], {}, 1
    say("running %s; each cluster launch takes a few seconds (load average %s)"
        % ("every benchmark" if only == GROUPS else ", ".join(only), load_start))
    try:
        res = run_all(trees, args.rounds, repeat, extra, only)
    except drive.DriveError as e:
        raise SystemExit("bench: %s" % e) from None
    minutes, load_end = (time.monotonic() - start) / 60, loadavg()

    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0]
    command = "/usr/bin/python3 bench/run.py --rounds %d" % args.rounds
    make = "make bench"
    if args.baseline:
        command += " --baseline %s" % args.baseline
        make += " BASELINE=%s" % args.baseline
    if only != GROUPS:
        command += " " + " ".join(only)
        make += ' ONLY="%s"' % " ".join(only)
    today = datetime.date.today().isoformat()
    lines = [
        "# dmos benchmark results",
        "",
        "Produced by `%s` (`%s`) on %s." % (make, command, today),
        "Machine: %d cores, %s, %s, TCG. Figures from one run; quote ratios."
        % (os.cpu_count(), platform.machine(), qemu),
        "Load average (1, 5, 15 min): %s at the start, %s at the end, %.1f minutes later."
        % (load_start, load_end, minutes),
    ]
    if args.baseline:
        dirty = git("status", "--porcelain", "--", ".", ":!bench/RESULTS.md")
        lines += [
            "",
            "Current tree %s%s against the baseline %s, both booted with `--no-disk`"
            % (describe("HEAD"), " with uncommitted changes" if dirty else "",
               describe(sha)),
            "(the baseline has no disk; `current+disk` is this tree with its default disk;",
            "the file system benchmarks boot both on an image of their own).",
            "Every benchmark ran %s for each tree, interleaved (baseline, current, "
            "baseline, ...);" % ("once" if args.rounds == 1 else "%d times" % args.rounds),
            "the figures below are the current tree's medians; the side by side tables at the",
            "end give each tree's median (min-max) and current/baseline of the medians.",
        ]
    # a run of some benchmarks into an existing RESULTS.md: each part says where it came from
    partial = only != GROUPS and os.path.exists(RESULTS)
    whence = ["", "(This part: `%s` (`%s`) on %s%s, load average %s at the start, %s at "
              "the end, %.1f minutes; the rest of the file is from the runs it names.)"
              % (make, command, today, ", against the baseline %s" % sha[:7] if args.baseline
                 else "", load_start, load_end, minutes)] if partial else []
    blocks = {}
    for group in only:
        skipped = NOTES.get(("current", group), {}).get("skipped")
        body = FIGURES[group](res, args.rounds) if not skipped else [
            "", "## " + GROUP_TITLES[group], "", "Not run: this tree has %s." % skipped]
        blocks["figures", group] = block("figures", group, body + whence)
        if args.baseline and not skipped:
            blocks["baseline", group] = block("baseline", group, side_by_side(
                res, trees + extra.get(group, []), group) + whence)
    sbs_head = ["", "%s %s" % (SBS_HEADING, sha[:7]), "",
                "Ratio: current / baseline of the medians; `better` says which way is good.",
                "Verdict: better or worse when the two trees' ranges over the rounds do not",
                "overlap, else within noise."] if args.baseline else []
    if partial:
        with open(RESULTS) as f:
            lines = merge(f.read().rstrip("\n").split("\n"), blocks, sbs_head)
    else:
        lines += sum((blocks["figures", g] for g in only), [])
        if args.baseline:
            lines += sbs_head + sum((blocks.get(("baseline", g), []) for g in only), [])
    with open(RESULTS, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    say("wrote %s" % os.path.relpath(RESULTS, REPO))


if __name__ == "__main__":
    main()
