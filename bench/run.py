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
"""

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
from dmoslib import drive  # noqa: E402
from dmoslib.logwatch import until  # noqa: E402
RESULTS = os.path.join(REPO, "bench", "RESULTS.md")


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def bench_join(counts, rounds):
    rows = []
    for n in counts:
        times = []
        for r in range(rounds):
            with drive.Cluster.up("bench-join-%d-%d" % (os.getpid(), n), n, pool="64M",
                                  timeout=60) as c:
                times.append(c.booted)
            say("join %d nodes, round %d/%d: %.2f s" % (n, r + 1, rounds, times[-1]))
        rows.append((n, min(times), statistics.median(times)))
    return rows


class Cluster(drive.Cluster):
    """A benchmark's cluster: named after the benchmark, 256M pool, 64M nodes."""

    @classmethod
    def bench(cls, tag, nodes, extra=()):
        return cls.up("bench-%s-%d" % (tag, os.getpid()), nodes, extra=extra)

    def moves(self):
        """Translation blocks moved so far, as node 0's `pool` command reports."""
        m = self.run([0], "pool", r"translation: .*?, (\d+) moves[^\n]*\n.*node %d: pool:")[0]
        return int(m.group(1))


def bench_palloc():
    c = Cluster.bench("palloc", 3)
    try:
        say("palloc: one node alone, then three at once")
        alone = int(c.run([0], "bench palloc 3", r"node %d: bench palloc: (\d+) alloc")[0].group(1))
        three = [int(m.group(1)) for m in
                 c.run([0, 1, 2], "bench palloc 3", r"node %d: bench palloc: (\d+) alloc")]
        return alone, three
    finally:
        c.down()


def bench_ping():
    rows = []
    for mode, extra in (("doorbell", ()), ("polled", ("--no-doorbell",))):
        c = Cluster.bench("ping", 2, extra)
        try:
            say("ping: 1000 round trips, %s" % mode)
            m = c.run([0], "ping 1 1000", r"node %d -> 1: 1000 round trips, min (\d+) us, "
                      r"avg (\d+) us, max (\d+) us")[0]
            rows.append((mode,) + tuple(int(x) for x in m.groups()))
        finally:
            c.down()
    return rows


def bench_move():
    rows = []
    for gran, count in (("4k", 200), ("2m", 20)):
        c = Cluster.bench("move", 2, ("--node-arg", "all:xlate=" + gran))
        try:
            say("move: %d moves at %s granularity" % (count, gran))
            m = c.run([0], "bench move %d" % count, r"node %d: bench move: \d+ moves of (\d+) KiB, "
                      r"(\d+) us each, worst (\d+) us \((-?\d+)\)")[0]
            if m.group(4) != "0":
                raise SystemExit("bench: move failed: " + m.group(0))
            rows.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
        finally:
            c.down()
    return rows


def bench_drain():
    c = Cluster.bench("drain", 3)
    try:
        say("drain: fill regions 0 and 1 from node 1, drain region 1 from node 0")
        c.run([1], "hold 16000", r"node %d: hold: \d+ pool pages taken")
        before = c.moves()
        m = c.run([0], "drain 1", r"node %d: drain: region 1 (\S+) in (\d+) ms \((-?\d+)\)")[0]
        if m.group(1) != "offline":
            raise SystemExit("bench: drain failed: " + m.group(0))
        after = c.moves()
        bad = c.run([1], "release", r"node %d: release: \d+ pool pages freed, (\d+) bad")[0]
        if bad.group(1) != "0":
            raise SystemExit("bench: pages lost their data in the drain")
        return int(m.group(2)), after - before
    finally:
        c.down()


def bench_ubench():
    c = Cluster.bench("ubench", 2)
    try:
        say("ubench: programs on node 0 (and node 1 for the handoff)")
        rows = []
        for line in ("ubench", "ubench handoff"):
            m = c.run([0], "run " + line, r"node %d: run: ubench \(pid \d+\) exited with status (\d+)")[0]
            if m.group(1) != "0":
                raise SystemExit("bench: `%s` failed (see %s)" % (line, c.run_dir))
            rows += re.findall(r"^ubench: ([a-z_]+) ([\d.]+) (\S+)", c.log(0), re.M)
        seen, out = set(), []
        for name, value, unit in rows:
            if name not in seen:
                seen.add(name)
                out.append((name, value, unit))
        return out
    finally:
        c.down()


def bench_region_fail(rounds):
    """Host time from the injection to each reaction, seen in the node logs (5 ms polls)."""
    seen = {"noticed": [], "exception": [], "killed": []}
    for r in range(rounds):
        c = Cluster.bench("fail", 3, ("--node-arg", "all:region=8"))
        try:
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
            seen["noticed"].append(max(found[n][1] for n in range(3)) - t0)
            seen["exception"].append(found["exception"][1] - t0)
            seen["killed"].append(found["killed"][1] - t0)
            say("region failure, round %d/%d: all noticed %.0f ms, exception %.0f ms, kill %.0f ms"
                % (r + 1, rounds, 1000 * seen["noticed"][-1], 1000 * seen["exception"][-1],
                   1000 * seen["killed"][-1]))
        finally:
            c.down()
    return [(what, 1000 * statistics.median(ts), 1000 * max(ts)) for what, ts in seen.items()]


def bench_link_down(rounds):
    """Host time from the NMI to each reaction, seen in the node logs (5 ms polls)."""
    seen = {"noticed": [], "exception": [], "killed": [], "declared": []}
    for r in range(rounds):
        c = Cluster.bench("link", 3)
        try:
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
            for what in ("noticed", "exception", "killed"):
                seen[what].append(found[what][1] - t0)
            seen["declared"].append(min(found[n][1] for n in (0, 2)) - t0)
            say("link down, round %d/%d: noticed %.0f ms, exception %.0f ms, kill %.0f ms, "
                "declared dead %.0f ms" % (r + 1, rounds, *(1000 * seen[w][-1] for w in seen)))
        finally:
            c.down()
    return [(what, 1000 * statistics.median(ts), 1000 * max(ts)) for what, ts in seen.items()]


def bench_frames():
    pat = re.compile(r"bench frames order (\d+): (\d+) ns per alloc\+free")
    with drive.Cluster.up("bench-frames-%d" % os.getpid(), 1, pool="64M", timeout=60,
                          node_args={0: "bench=frames"}) as c:
        if not until(lambda: len(pat.findall(c.log(0))) == 3, 60, 0.1):
            raise SystemExit("bench: node 0 printed no frame benchmark in 60 s (see %s)"
                             % c.run_dir)
        return [(int(o), int(ns)) for o, ns in pat.findall(c.log(0))]


def section(title, intro, headers, rows):
    """One section of RESULTS.md: a heading, what was measured, a table."""
    out = ["", "## " + title, ""] + intro + ["", "| %s |" % " | ".join(headers),
                                             "|%s" % ("---|" * len(headers))]
    return out + ["| %s |" % " | ".join(str(c) for c in row) for row in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="launches per cluster size")
    args = ap.parse_args()
    say("running; each cluster launch takes a few seconds")

    try:
        join = bench_join((1, 3, 8), args.rounds)
        frames = bench_frames()
        palloc_alone, palloc_three = bench_palloc()
        pings = bench_ping()
        moves = bench_move()
        drain_ms, drain_pages = bench_drain()
        ubench = bench_ubench()
        fails = bench_region_fail(args.rounds)
        links = bench_link_down(args.rounds)
    except drive.DriveError as e:
        raise SystemExit("bench: %s" % e) from None

    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0]
    lines = [
        "# dmos benchmark results",
        "",
        "Produced by `make bench` (`/usr/bin/python3 bench/run.py --rounds %d`) on %s."
        % (args.rounds, datetime.date.today().isoformat()),
        "Machine: %d cores, %s, %s, TCG. Figures from one run; quote ratios."
        % (os.cpu_count(), platform.machine(), qemu),
    ]
    lines += section(
        "Launch to all joined",
        ["Wall time from `dmos up --detach` to every node's `cluster up` line",
         "(QEMU start, SeaBIOS, GRUB, kernel boot, pool format/join). Target: 8 nodes < 3 s."],
        ["nodes", "best", "median"],
        [(n, "%.2f s" % best, "%.2f s" % med) for n, best, med in join])
    lines += section(
        "Local frame allocator",
        ["One frame_alloc + frame_free pair inside a node (buddy allocator, TSC timed)."],
        ["order", "block", "ns per alloc+free"],
        [(o, "%d KiB" % (4 << o), ns) for o, ns in frames])
    lines += section(
        "Pool page allocator",
        ["palloc_alloc + palloc_free pairs per second (`bench palloc 3` on the monitor),",
         "per-node chunks, no cluster-wide lock on this path. Three nodes share 2 host cores."],
        ["run", "per node", "cluster total"],
        [("node 0 alone", "%d/s" % palloc_alone, "%d/s" % palloc_alone),
         ("three nodes at once", ", ".join("%d/s" % x for x in palloc_three),
          "%d/s" % sum(palloc_three))])
    lines += section(
        "Messages between kernels",
        ["Request/reply round trip node 0 -> node 1 (`ping 1 1000`), 1000 in a row.",
         "Polled means ivshmem-plain: the receiver looks at its rings every 1 ms tick."],
        ["mode", "min", "avg", "max"],
        [(mode, "%d us" % lo, "%d us" % avg, "%d us" % hi) for mode, lo, avg, hi in pings])
    lines += section(
        "Moving pool memory",
        ["One translation block moved (`bench move`): reserve a spare block, shoot down",
         "every node's mapping (a message round trip to each), copy, publish."],
        ["granularity", "per move", "worst"],
        [("%d KiB" % kib, "%d us" % us, "%d us" % worst) for kib, us, worst in moves])
    lines += ["", "Draining region 1 (32 MiB) while node 1 holds 16000 pool pages: %d ms, %d blocks"
              " moved (4 KiB granularity, doorbell on); every moved page kept its data."
              % (drain_ms, drain_pages)]
    lines += section(
        "From a program",
        ["`ubench` (userland/bin/ubench.c) on node 0; `ubench handoff` fills 64 MiB in a",
         "shared segment on node 0 and a process on node 1 reads and checks all of it."],
        ["measure", "value"],
        [(what, "%s %s" % (value, unit)) for what, value, unit in ubench])
    lines += section(
        "Region failure",
        ["A region holding 4 MiB of node 0's optional memory and 4 MiB of node 1's vital",
         "memory fails (`drive.fail_region`, the injector of `dmos fail-region`); host time",
         "from its last store to each reaction on the node consoles, read every 5 ms;",
         "%d rounds, a fresh 3-node cluster each." % args.rounds],
        ["reaction", "median", "worst"],
        [({"noticed": "every node said the region failed",
           "exception": "node 0's program took the exception",
           "killed": "node 1's program was killed"}[what], "%.0f ms" % med, "%.0f ms" % worst)
         for what, med, worst in fails])
    lines += section(
        "A node loses the pool",
        ["Node 1, running a program with 4 MiB of optional pool memory and one with 4 MiB",
         "of vital pool memory, loses its link (`drive.fail_link`, as `dmos fail-link`:",
         "link_down in its node-table entry, then an NMI); host time from the NMI to each",
         "reaction on the consoles, read every 5 ms; %d rounds, a fresh 3-node cluster each."
         % args.rounds,
         "The others declare it dead after dead_after (2 s) without a heartbeat."],
        ["reaction", "median", "worst"],
        [({"noticed": "node 1 said it lost the pool",
           "exception": "its optional-memory program took the exception",
           "killed": "its vital-memory program was killed",
           "declared": "another node declared node 1 dead"}[what],
          "%.0f ms" % med, "%.0f ms" % worst) for what, med, worst in links])
    with open(RESULTS, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    say("wrote %s" % os.path.relpath(RESULTS, REPO))


if __name__ == "__main__":
    main()
