"""`dmos up --detach`: wait until every node has joined, or say why not.

wait_joined() follows every node's console log (logwatch.LogWatch) until
each printed its `cluster up` line, showing progress as it goes. If the supervisor exits,
a node's QEMU exits before joining, or the timeout passes, it names what went
wrong (with QEMU's and the ivshmem-server's own words from launcher.log and
the last console line of each missing node), takes the cluster down and
returns 1.
"""

import os
import sys
import time

from . import params
from .logwatch import LogWatch
from .supervisor import status_text


def wait_joined(run, sup, timeout, take_down):
    """Wait until every node printed `cluster up`; on failure take_down(run)."""
    nodes = run.cfg["nodes"]
    scans = [LogWatch(nd["log"]) for nd in run.cfg["node"]]
    joined, t0, shown, shown_at = {}, time.monotonic(), None, 0.0
    tty = sys.stdout.isatty()
    try:
        while True:
            for n, s in enumerate(scans):
                if n not in joined:
                    line = s.line(params.JOIN_RE)
                    if line is not None:
                        joined[n] = line
            missing = [n for n in range(nodes) if n not in joined]
            if not missing:
                break
            elapsed = time.monotonic() - t0
            why = None
            if sup.poll() is not None:
                why = ["the supervisor exited (%s); see %s"
                       % (status_text(sup.returncode), os.path.relpath(run.logfile))]
                why += logged(run, ["no ivshmem-server: "])
            else:
                cfg = run.load() or run.cfg
                gone = [nd for nd in cfg["node"]
                        if nd["state"] == "exited" and nd["id"] in missing]
                if gone:
                    why = ["node %d: qemu exited (%s) before it joined"
                           % (nd["id"], nd.get("exit")) for nd in gone]
                    why += logged(run, ["node %d: qemu says: " % nd["id"] for nd in gone])
                elif elapsed > timeout:
                    why = ["timed out after %g s: %s did not join (no %r line)"
                           % (timeout, ", ".join("node %d" % n for n in missing),
                              params.JOIN_RE.pattern)]
                    for n in missing:
                        last = scans[n].last()
                        why.append("  node%d's last console line: %s"
                                   % (n, repr(last[0]) if last else "(no output at all)"))
                    if run.cfg["gdb_wait"]:
                        why.append("  (with --gdb-wait, attach gdb and continue within "
                                   "--timeout, or run `dmos up` in the foreground)")
            if why:
                if tty:
                    print()
                print("dmos: " + "\n".join(why), file=sys.stderr)
                print("dmos: taking cluster %s down; logs stay in %s"
                      % (run.name, os.path.relpath(run.dir)), file=sys.stderr)
                take_down(run)
                return 1
            msg = "waiting for nodes: %d/%d joined" % (len(joined), nodes)
            if tty:
                print("\r%s (%d s)" % (msg, elapsed), end="", flush=True)
            elif msg != shown or elapsed - shown_at >= 10:
                print("%s (%d s)" % (msg, elapsed), flush=True)
                shown_at = elapsed
            shown = msg
            time.sleep(0.02)    # a node joins in well under a second: look often
    except KeyboardInterrupt:
        print("\ndmos: interrupted; taking cluster %s down" % run.name, file=sys.stderr)
        take_down(run)
        return 130
    if tty:
        print("\r\033[K", end="")
    print("cluster %s is up: %d/%d nodes joined in %.1f s" % (
        run.name, nodes, nodes, time.monotonic() - t0))
    for n in range(nodes):
        print("  node%d| %s" % (n, joined[n]))
    print("logs: %s/node<N>.log, events: %s" % (os.path.relpath(run.dir),
                                                 os.path.relpath(run.logfile)))
    opt = "" if run.name == params.CLUSTER_DEFAULT else " --cluster " + run.name
    print("console: dmos console N%s    stop: dmos down%s" % (opt, opt))
    return 0


def logged(run, tags):
    """What launcher.log says after any of these tags (QEMU's or the
    ivshmem-server's own words), the last 10 lines."""
    out = []
    try:
        with open(run.logfile) as f:
            for line in f:
                for tag in tags:
                    if tag in line:
                        out.append("  " + line.split(tag, 1)[1].rstrip())
    except OSError:
        pass
    return out[-10:]
