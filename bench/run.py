#!/usr/bin/python3
"""dmos benchmarks: boots real clusters and writes bench/RESULTS.md.

Run with `make bench`. Every figure comes from one run of this script on
this machine; ratios between figures are the thing to quote, since the
machines are shared and noisy. Progress goes to stderr as it runs.

  join N      time from `dmos up` to every node's "cluster up" line, for
              1, 3 and 8 nodes (best and median of several launches)
  frames      local frame alloc+free cost inside a node (bench=frames)
"""

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DMOS = [sys.executable, os.path.join(REPO, "tools", "dmos")]
RESULTS = os.path.join(REPO, "bench", "RESULTS.md")


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def dmos(*args, check=True):
    r = subprocess.run(DMOS + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit("bench: dmos %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def up_timed(name, nodes, extra=()):
    """Launch a detached cluster; return the seconds until every node joined."""
    t0 = time.monotonic()
    dmos("up", "--detach", "--nodes", str(nodes), "--mem", "64M", "--pool", "64M",
         "--cluster", name, "--timeout", "60", *extra)
    return time.monotonic() - t0


def bench_join(counts, rounds):
    rows = []
    for n in counts:
        times = []
        for r in range(rounds):
            name = "bench-join-%d-%d" % (os.getpid(), n)
            try:
                times.append(up_timed(name, n))
            finally:
                dmos("down", "--cluster", name, check=False)
            say("join %d nodes, round %d/%d: %.2f s" % (n, r + 1, rounds, times[-1]))
        rows.append((n, min(times), statistics.median(times)))
    return rows


def bench_frames():
    name = "bench-frames-%d" % os.getpid()
    try:
        up_timed(name, 1, ("--node-arg", "0:bench=frames"))
        log = os.path.join(REPO, "build", "run", name, "node0.log")
        pat = re.compile(r"bench frames order (\d+): (\d+) ns per alloc\+free")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = pat.findall(open(log, errors="replace").read())
            if len(found) == 3:
                return [(int(o), int(ns)) for o, ns in found]
            time.sleep(0.1)
        raise SystemExit("bench: node 0 printed no frame benchmark in 60 s (see %s)" % log)
    finally:
        dmos("down", "--cluster", name, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="launches per cluster size")
    args = ap.parse_args()
    say("running; each cluster launch takes a few seconds")

    join = bench_join((1, 3, 8), args.rounds)
    frames = bench_frames()

    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0]
    lines = [
        "# dmos benchmark results",
        "",
        "Produced by `make bench` (`/usr/bin/python3 bench/run.py --rounds %d`) on %s."
        % (args.rounds, datetime.date.today().isoformat()),
        "Machine: %d cores, %s, %s, TCG. Figures from one run; quote ratios."
        % (os.cpu_count(), platform.machine(), qemu),
        "",
        "## Launch to all joined",
        "",
        "Wall time from `dmos up --detach` to every node's `cluster up` line",
        "(QEMU start, SeaBIOS, GRUB, kernel boot, pool format/join). Target: 8 nodes < 3 s.",
        "",
        "| nodes | best | median |",
        "|---|---|---|",
    ]
    lines += ["| %d | %.2f s | %.2f s |" % row for row in join]
    lines += [
        "",
        "## Local frame allocator",
        "",
        "One frame_alloc + frame_free pair inside a node (buddy allocator, TSC timed).",
        "",
        "| order | block | ns per alloc+free |",
        "|---|---|---|",
    ]
    lines += ["| %d | %d KiB | %d |" % (o, 4 << o, ns) for o, ns in frames]
    with open(RESULTS, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    say("wrote %s" % os.path.relpath(RESULTS, REPO))


if __name__ == "__main__":
    main()
