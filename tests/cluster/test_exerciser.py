"""A third-party file system exerciser in the guest: postmark, NetApp's
small-file benchmark, built unchanged from Debian's source package
(tools/fetch-source.sh, userland/Makefile), on one node and on several
nodes at once.

postmark creates a pool of files of random sizes, then runs transactions
that each read or append to one file and create or delete one, then deletes
them all: open/creat, write, read, O_APPEND and fopen "a", remove, mkdir
and rmdir, through stdio (buffered) or the plain calls. It is configured by
its own command language, here a file on its standard input (the shell's
`<`). What it checks itself is every open and remove: a failure is an
"Error: ..." line. It does not check the data it reads back, nor the
results of read and write. The test asserts what it reports: no errors,
exit status 0, the working directory it started in (getwd), one report per
`run` appended to its report file, and counts that add up the way
postmark's bookkeeping makes them (each file created is deleted; a
transaction creates or deletes exactly one file, and reads or appends to
at most one); and afterwards, from outside, that each working directory
is empty (postmark does not look at what rmdir says).

"Against the same files": postmark names its files 1, 2, 3, ... in the
order it creates them, under its location, so two runs in one directory
would delete each other's files (and report it). Several nodes at once
therefore share one directory, each node's postmark in its own
subdirectory nodeN of it, with its own subdirectories s0, s1, ... below:
on the cluster file system they share the parent directory, the file
system's allocation and the page cache, and every node sees the others'
directories. With /tmp (each node's memory file system) the directory is
each node's own. The place is the tests' parameter (PLACES); the one on
dmosfs is skipped while dmosfs is read-only.
"""

import re

import pytest

CONFIG = "/tmp/postmark.cfg"    # each node's own, whatever the place

# (directory, shared by the nodes): each node's memory file system, and
# one directory of dmosfs, the cluster file system at "/".
PLACES = [("/tmp/postmark", False), ("/postmark", True)]
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]")

# Two runs per node: stdio with postmark's defaults (block sizes of 512),
# then the plain calls with odd block sizes, so reads and writes straddle
# pages and file sizes from 1 byte to several pages.
WORKLOADS = [
    dict(buffering="true", size=(500, 10000), number=300, transactions=1500,
         read=512, write=512, subdirectories=4, seed=42),
    dict(buffering="false", size=(1, 30000), number=200, transactions=1000,
         read=1000, write=3000, subdirectories=3, seed=7),
]

REPORT = re.compile(
    r"Files:\s+(?P<created>\d+) created .*\n"
    r"\s+Creation alone: (?P<created_alone>\d+) files.*\n"
    r"\s+Mixed with transactions: (?P<created_mixed>\d+) files.*\n"
    r"\s+(?P<read>\d+) read .*\n"
    r"\s+(?P<appended>\d+) appended .*\n"
    r"\s+(?P<deleted>\d+) deleted .*\n"
    r"\s+Deletion alone: (?P<deleted_alone>\d+) files.*\n"
    r"\s+Mixed with transactions: (?P<deleted_mixed>\d+) files.*\n"
    r"\s+Data:\s+(?P<bytes_read>[\d.]+) (?P<read_unit>\w+) read .*\n"
    r"\s+(?P<bytes_written>[\d.]+) (?P<written_unit>\w+) written")


def finish(c, n, line, mark, timeout=120):
    """Wait for the run started at mark (c.start_program); return (exit status
    or None, the program's output: without the command echoed and the
    kernel's lines)."""
    _, status, out = c.program_done(n, line, mark, timeout)
    lines = out.split("\n")[1:]
    return status, "\n".join(x for x in lines if not TIMESTAMP.match(x))


def run(c, n, line, timeout=120):
    return finish(c, n, line, c.start_program(n, line), timeout)


def must(c, n, line):
    status, out = run(c, n, line)
    assert status == 0, "node %d: %s: status %s\n%s" % (n, line, status, out)
    return out


def config_lines(location, report):
    """postmark's commands: show (where it starts), then every workload in
    location, each appending its report to the file report, then quit."""
    lines = ["show"]
    for w in WORKLOADS:
        lines += ["set location %s" % location,
                  "set size %d %d" % w["size"],
                  "set number %d" % w["number"],
                  "set transactions %d" % w["transactions"],
                  "set seed %d" % w["seed"],
                  "set subdirectories %d" % w["subdirectories"],
                  "set read %d" % w["read"],
                  "set write %d" % w["write"],
                  "set buffering %s" % w["buffering"],
                  "run %s" % report]
    return lines + ["quit"]


def write_config(c, n, location, report):
    for i, line in enumerate(config_lines(location, report)):
        must(c, n, "sh -c echo %s %s %s" % (line, ">>" if i else ">", CONFIG))


def check_reports(n, status, out, cwd, report):
    """postmark's own account of its runs on node n: out, what it printed
    (started in cwd), and report, its report file's contents."""
    where = "node %d" % n
    assert status == 0, "%s: postmark's status %s\n%s" % (where, status, out[-3000:])
    assert "PostMark v1.5" in out, out[-3000:]
    errors = re.findall(r"^.*(?:Error|out of files|Eh\?).*$", out, re.M)
    assert not errors, "%s: postmark said:\n%s" % (where, "\n".join(errors[:20]))
    m = re.search(r"^Working directory: (.*)$", out, re.M)      # getwd()
    assert m and m.group(1) == cwd, "%s: postmark's working directory %r, want %r" % (
        where, m and m.group(1), cwd)
    assert out.count("Deleting subdirectories...Done") == len(WORKLOADS), out[-3000:]
    # each run appended its report to the file: all of them are there, in order
    reports = [m.groupdict() for m in REPORT.finditer(report)]
    assert len(reports) == len(WORKLOADS), "%s: %d reports for %d runs:\n%s" % (
        where, len(reports), len(WORKLOADS), report[-3000:])
    for w, r in zip(WORKLOADS, reports):
        r = {k: (v if k.endswith("unit") else float(v) if "." in v else int(v))
             for k, v in r.items()}
        assert r["created_alone"] == w["number"], (where, w, r)
        assert r["created"] == r["created_alone"] + r["created_mixed"], (where, r)
        assert r["deleted"] == r["created"], "%s: files left behind: %s" % (where, r)
        assert r["deleted"] == r["deleted_alone"] + r["deleted_mixed"], (where, r)
        # each transaction creates a file or deletes one (counted only if remove worked)
        assert r["created_mixed"] + r["deleted_mixed"] == w["transactions"], (where, w, r)
        # and reads one or appends to one (no append to a file at the largest size)
        assert 0 < r["read"] + r["appended"] <= w["transactions"], (where, w, r)
        assert r["read"] > 0 and r["appended"] > 0, (where, r)
        assert r["bytes_read"] > 0 and r["bytes_written"] > 0, (where, r)


def run_everywhere(c, nodes, base, shared):
    """Run postmark on every node in nodes at once, node n in base/node<n>
    with its report in base/node<n>.report (base: shared by the nodes, or
    each node's own); check what each reports and that each directory is
    empty afterwards."""
    for n in nodes:
        status, out = run(c, n, "mkdir %s" % base)
        assert status == 0 or "File exists" in out, "node %d: %s" % (n, out)
        must(c, n, "mkdir %s/node%d" % (base, n))
        write_config(c, n, "%s/node%d" % (base, n), "%s/node%d.report" % (base, n))
    cwd = {n: must(c, n, "sh -c pwd").strip() for n in nodes}
    line = "sh -c postmark < %s" % CONFIG
    marks = {n: c.start_program(n, line) for n in nodes}
    for n in nodes:
        status, out = finish(c, n, line, marks[n], timeout=600)
        report = must(c, n, "cat %s/node%d.report" % (base, n))
        check_reports(n, status, out, cwd[n], report)
    for n in nodes:
        left = must(c, n, "ls -a %s/node%d" % (base, n)).split()
        left = [f for f in left if f not in (".", "..")]
        assert not left, "node %d: postmark left %s in %s/node%d" % (n, left, base, n)
        if shared:      # and every node sees every node's directory and report
            names = must(c, n, "ls %s" % base).split()
            want = ["node%d%s" % (m, x) for m in nodes for x in ("", ".report")]
            assert sorted(names) == sorted(want), (n, names)


@pytest.mark.boot
@pytest.mark.parametrize("base,shared", PLACES)
@pytest.mark.parametrize("nodes", [1, 3])
def test_postmark(launch, nodes, base, shared):
    c = launch(nodes=nodes, mem="128M", pool="256M")
    if shared:
        status, out = run(c, 0, "mkdir %s" % base)
        if status != 0 and "Read-only file system" in out:
            pytest.skip("dmosfs (/) is read-only: no shared directory to run postmark in")
        assert status == 0, out
    run_everywhere(c, list(range(nodes)), base, shared)
    for n in range(nodes):
        assert "CPU exception" not in c.log(n)
