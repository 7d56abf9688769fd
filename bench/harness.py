"""The benchmarks' harness (bench/run.py is the driver): the trees under
test, their clusters, running programs on them, the results and the
pieces of RESULTS.md every benchmark's figure is written with. The
benchmarks themselves are in run.py (the cluster layer and memory),
fsbench.py (the file system) and netbench.py (the network)."""

import os
import re
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
from dmoslib import drive, params  # noqa: E402

MiB = 1 << 20
NOTES = {}          # (tree key, group) -> {what: text}, what the rounds saw besides figures
PORT_BUSY = ("Address already in use", "is in use")
LAUNCH_TRIES = 5


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Tree:
    """One build under test: its source tree, the ISO its nodes boot (None:
    this tree's build/dmos.iso) and the launcher flags every cluster of it gets."""

    def __init__(self, key, label, iso=None, extra=(), root=REPO):
        self.key, self.label, self.iso, self.extra = key, label, iso, tuple(extra)
        self.root = root

    def lacks(self, needs):
        """The first of needs, [(file, text it must hold)], this tree's source
        does not meet, as words; None if it meets them all."""
        for path, text in needs:
            try:
                with open(os.path.join(self.root, path)) as f:
                    if text in f.read():
                        continue
            except OSError:
                return "no %s" % path
            return "%s without %r" % (path, text)
        return None

    def name(self, tag):
        """A cluster name for a benchmark of this tree (at most 31 characters)."""
        return "bench-%s%s-%d" % ("" if self.key == "current" else self.key + "-", tag,
                                   os.getpid())


def gdb_base(attempt):
    """The first gdb port of a launch: a range picked by this process's pid,
    never the one `dmos up` gives this user by default."""
    own = os.getuid() % params.GDB_USERS
    i = (own + 1 + (os.getpid() + attempt) % (params.GDB_USERS - 1)) % params.GDB_USERS
    return params.GDB_BASE + i * params.GDB_SPAN


class Cluster(drive.Cluster):
    """A benchmark's cluster: named after the benchmark, 256M pool, 64M nodes."""

    @classmethod
    def bench(cls, tree, tag, nodes, extra=(), disk=None, **kw):
        """Launch a cluster of tree (kw go to drive.Cluster.up), on the disk
        image disk if given (the tree's --no-disk then left out); a launch that
        lost a gdb port to another cluster is tried again in another range."""
        flags = tree.extra if disk is None else tuple(
            f for f in tree.extra if f != "--no-disk") + ("--disk-path", disk)
        for attempt in range(LAUNCH_TRIES):
            try:
                return cls.up(tree.name(tag), nodes, iso=tree.iso, extra=flags + tuple(
                    extra) + ("--gdb-base", str(gdb_base(attempt))), **kw)
            except drive.DriveError as e:
                if attempt + 1 == LAUNCH_TRIES or not any(b in str(e) for b in PORT_BUSY):
                    raise
                say("%s: a gdb port was taken, launching again" % tree.name(tag))
        raise AssertionError("not reached")

    def moves(self):
        """Translation blocks moved so far, as node 0's `pool` command reports."""
        m = self.run([0], "pool", r"translation: .*?, (\d+) moves[^\n]*\n.*node %d: pool:")[0]
        return int(m.group(1))


def in_ms(round_fn):
    """A reaction benchmark's round, its host seconds as milliseconds."""
    def bench(tree):
        return [(what, 1000 * t, "ms", "lower") for what, t in round_fn(tree)]
    return bench


# --- programs on the nodes ---------------------------------------------------

def start(c, n, line):
    """Type `run line` on node n's monitor; the log mark to wait from."""
    return c.start_program(n, line)


def finish(c, n, line, mark, timeout=300):
    """Wait until the program started at mark exits; its output. A program
    that fails ends the benchmarks with its last words."""
    _, status, out = c.program_done(n, line, mark, timeout)
    if status != 0:
        raise SystemExit("bench: `%s` on node %d %s (logs in %s):\n%s"
                         % (line, n, "was killed" if status is None else
                            "exited with status %d" % status, c.run_dir, out.strip()[-1000:]))
    return out


def program(c, n, line, timeout=300):
    return finish(c, n, line, start(c, n, line), timeout)


def together(c, lines, timeout=300):
    """Run lines[n] on node n, all at once; {n: output} once all are done."""
    marks = {n: start(c, n, line) for n, line in lines.items()}
    return {n: finish(c, n, line, marks[n], timeout) for n, line in lines.items()}


def parsed(pattern, out, what):
    m = re.search(pattern, out)
    if not m:
        raise SystemExit("bench: no %s line in:\n%s" % (what, out.strip()[-1000:]))
    return m


# --- results and RESULTS.md ----------------------------------------------------

class Results:
    """Every sample of every metric of every tree, and what each metric is."""

    def __init__(self):
        self.samples = {}       # tree key -> {metric: [values]}
        self.meta = {}          # (group, metric) -> (unit, better), in first-seen order

    def add(self, tree, group, rows):
        for metric, value, unit, better in rows:
            self.meta.setdefault((group, metric), (unit, better))
            self.samples.setdefault(tree.key, {}).setdefault((group, metric), []).append(value)

    def of(self, tree_key, group, metric):
        return self.samples.get(tree_key, {}).get((group, metric), [])

    def metrics(self, group):
        return [m for g, m in self.meta if g == group]

    def median(self, group, metric, tree_key="current"):
        return statistics.median(self.of(tree_key, group, metric))


def fmt(v, unit):
    if unit == "s":
        return "%.2f" % v
    if v == int(v):
        return "%d" % v
    if unit in ("x", "%") and abs(v) < 10:
        return "%.2f" % v
    return "%.1f" % v if abs(v) < 100 else "%.0f" % v


def with_unit(text, unit):
    return text + unit if unit.startswith("/") or unit == "x" else "%s %s" % (text, unit)


def section(title, intro, headers, rows):
    """One section of RESULTS.md: a heading, what was measured, a table."""
    out = ["", "## " + title, ""] + intro + ["", "| %s |" % " | ".join(headers),
                                             "|%s" % ("---|" * len(headers))]
    return out + ["| %s |" % " | ".join(str(c) for c in row) for row in rows]


def value(res, group, metric):
    """This tree's median of a metric, with its unit."""
    unit = res.meta[group, metric][0]
    return with_unit(fmt(res.median(group, metric), unit), unit)


def note(group, what):
    return NOTES.get(("current", group), {}).get(what, "?")


def verdict_line(ok, target):
    return "Target (%s): %s." % (target, "met" if ok else "NOT met")
