"""The `dmos` command line: argument parsing and the small commands.

Every subcommand is one function taking the parsed arguments and returning
the exit status: 0 done, 1 could not (e.g. no such cluster is running), 2 bad
input (nothing was created or changed). `fail-region` refuses a region or a
pool it cannot fail with 1 (and changes nothing), and so does `fail-link` a
node whose link it cannot take down. Every error is one line on stderr
starting `dmos: `. `up` and `down` live in launcher.py, installing
programs on a disk in install.py, the console in console.py, the fault
injector's pool writes and NMI in inject.py; the rest is here.
"""

import argparse
import json
import os
import signal
import sys
import time

from . import (cluster, console, inject, inspector, install, ivshmem, launcher, netview,
               params, pool, qemu, supervisor)
from .params import DmosError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one `dmos: ...` line and exit status 2."""

    def error(self, message):
        sub = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        raise UsageError("%s%s; see `%s --help`" % (sub, message, self.prog))


def build_parser():
    p = Parser(prog="dmos", description="Run and inspect dmos clusters: one QEMU "
               "per node, all sharing an emulated CXL pool. Node ids are 0..N-1.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", required=True)

    def cmd(name, help_):
        return sub.add_parser(name, help=help_, description=help_)

    def cluster_opt(c):
        c.add_argument("--cluster", metavar="NAME", help="cluster name (default: the "
                       "running cluster, 'dmos' if several)")

    c = cmd("up", "boot a cluster; stays in the foreground showing every console "
            "until Ctrl-C, unless --detach")
    c.add_argument("-n", "--nodes", type=int, default=params.NODES_DEFAULT, metavar="N",
                   help="number of nodes, %d..%d (default %d)" % (
                       params.NODES_MIN, params.NODES_MAX, params.NODES_DEFAULT))
    c.add_argument("--mem", default=params.MEM_DEFAULT, metavar="SIZE",
                   help="local memory per node, %s..%s (default %s)" % (
                       params.fmt_size(params.MEM_MIN), params.fmt_size(params.MEM_MAX),
                       params.MEM_DEFAULT))
    c.add_argument("--pool", default=params.POOL_DEFAULT, metavar="SIZE",
                   help="pool size, a power of two, %s..%s (default %s)" % (
                       params.fmt_size(params.POOL_MIN), params.fmt_size(params.POOL_MAX),
                       params.POOL_DEFAULT))
    c.add_argument("--cluster", default=params.CLUSTER_DEFAULT, metavar="NAME",
                   help="cluster name, [a-z0-9][a-z0-9-]{0,30} (default %s)"
                   % params.CLUSTER_DEFAULT)
    c.add_argument("--iso", metavar="PATH",
                   help="boot ISO (default %s)" % os.path.relpath(params.DEFAULT_ISO,
                                                                  params.REPO))
    c.add_argument("--pool-path", metavar="PATH", help="pool backing file (default "
                   "%s/dmos-NAME.pool, created and removed by dmos); an existing pool "
                   "image, or a dax device (with --no-doorbell), is used as is and kept"
                   % params.POOL_DIR)
    c.add_argument("--no-doorbell", action="store_true",
                   help="no inter-node interrupts: nodes map the pool file with "
                   "ivshmem-plain and poll for messages (default: ivshmem-doorbell, "
                   "served by one tools/ivshmem-server per cluster)")
    c.add_argument("--disk", metavar="SIZE",
                   help="the shared disk every node opens (virtio-blk), %s..%s, created "
                   "zero filled in the run dir and removed on down (default %s)" % (
                       params.fmt_size(params.DISK_MIN), params.fmt_size(params.DISK_MAX),
                       params.DISK_DEFAULT))
    c.add_argument("--disk-path", metavar="PATH",
                   help="use this disk image or block device as the shared disk, as it "
                   "is: it must exist, and it is never truncated or deleted")
    c.add_argument("--no-disk", action="store_true", help="boot the nodes without a disk")
    c.add_argument("--fs-cache", choices=("shared", "private"), default="shared",
                   help="where the nodes cache the disk's pages: shared, one cache in the "
                   "pool for the whole cluster (default), or private, one in each node's "
                   "own memory (the baseline; every node's kernel gets fscache=private)")
    c.add_argument("--node-arg", action="append", default=[], metavar="N:ARGS",
                   help="extra kernel arguments for node N (or all:ARGS); repeatable")
    c.add_argument("--gdb-wait", action="append", type=int, default=[], metavar="N",
                   help="node N waits for gdb before it runs; repeatable")
    c.add_argument("--gdb-base", type=int, metavar="PORT",
                   help="gdb port of node 0; node N gets PORT+N (default: per user)")
    c.add_argument("--no-net", action="store_true",
                   help="boot the nodes without a network card (default: one segment "
                   "for the cluster, behind a hub QEMU with slirp; docs/net.md)")
    c.add_argument("--net-base", type=int, metavar="PORT",
                   help="host port forwarded to node 0's tcp echo; node N gets PORT+N, "
                   "its tcp 80 PORT+NODES+N, and the cluster IP's tcp 7 and 80 follow "
                   "(docs/net.md; default: per user)")
    c.add_argument("--detach", action="store_true",
                   help="run in the background; return once every node joined")
    c.add_argument("--timeout", type=float, default=params.TIMEOUT_DEFAULT, metavar="SEC",
                   help="with --detach: seconds to wait for every node (default %d)"
                   % params.TIMEOUT_DEFAULT)

    c = cmd("install", "copy the programs of the build into /bin of a dmosfs disk "
            "image you keep, replacing older ones (a disk `up` creates gets them itself)")
    c.add_argument("--disk-path", metavar="PATH", required=True,
                   help="the image or block device (no cluster may have it open)")
    c.add_argument("--from", dest="src", metavar="DIR",
                   help="install the files of DIR instead (default %s)"
                   % os.path.relpath(params.PROGRAMS_DIR, params.REPO))

    c = cmd("down", "stop a cluster and remove its pool file, disk image and sockets "
            "(logs stay)")
    cluster_opt(c)

    c = cmd("status", "show the nodes of running clusters: QEMU, gdb port, pool state "
            "and link")
    cluster_opt(c)
    c.add_argument("--json", action="store_true", help="machine-readable output")

    for name, help_ in (("console", "attach this terminal to node N's serial console "
                         "(Ctrl-] detaches)"),
                        ("kill", "SIGKILL node N's QEMU (a node crash); the others "
                         "keep running"),
                        ("gdb", "print the gdb command that attaches to node N")):
        c = cmd(name, help_)
        c.add_argument("node", type=int, metavar="N", help="node id")
        cluster_opt(c)

    def pool_reader(name, help_):
        c = cmd(name, help_)
        g = c.add_mutually_exclusive_group()
        g.add_argument("--cluster", metavar="NAME", help="the pool of this running cluster")
        g.add_argument("--pool-path", metavar="PATH", help="a pool file or device")
        c.add_argument("--json", action="store_true", help="machine-readable output, the "
                       "same content")
        return c

    c = pool_reader("pool", "inspect a pool, read-only, nodes running or not: superblock, "
                    "nodes, regions, translation, allocator, page cache, rings, leases, "
                    "port table; exit 1 if it is damaged")
    c.add_argument("--disk-path", metavar="PATH", help="the cluster's disk image, to name "
                   "the files the page cache holds (default: a running cluster's own)")

    pool_reader("net", "the cluster IP, read from the pool: its address and MAC, the "
                "members, each port listened on with its listeners (node, pid, epoch) and "
                "buckets per node, and the host ports forwarded to it; exit 1 if the table "
                "is damaged")

    c = cmd("fail-region", "fault injection: mark REGION of the pool failed and destroy "
            "its contents, as a dead DIMM would; the nodes must notice and react")
    c.add_argument("region", metavar="REGION", help="region number (see `dmos pool`)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--cluster", metavar="NAME", help="the pool of this running cluster")
    g.add_argument("--pool-path", metavar="PATH", help="a pool file or device")

    c = cmd("fail-link", "fault injection: node N loses the pool, as when its CXL link "
            "goes down (link_down in its node-table entry, then an NMI); it must go on "
            "on local memory and the others declare it dead")
    c.add_argument("node", metavar="N", help="node id")
    cluster_opt(c)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["_supervise"] and len(argv) == 2:
            try:
                return supervisor.daemon_main(argv[1])
            finally:                    # once every node is stopped
                cluster.Run(os.path.basename(argv[1].rstrip("/"))).remove_disk()
        a, extra = build_parser().parse_known_args(argv)
        if extra:
            raise UsageError("%s: unrecognized arguments: %s; see `dmos %s --help`"
                             % (a.cmd, " ".join(extra), a.cmd))
        return COMMANDS[a.cmd](a)
    except DmosError as e:
        print("dmos: %s" % e, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("dmos: interrupted", file=sys.stderr)
        return 130


def cmd_down(a):
    try:
        run = cluster.pick(a.cluster)
    except DmosError:
        run = stale_run(a.cluster)
        if run is None:
            raise
    pool_path, nodes = run.cfg["pool_path"], run.cfg["nodes"]
    alive = len(run.live_nodes())
    was = "running" if run.running() else "stale"
    if was == "stale":
        print("dmos: cluster %s's supervisor is gone; cleaning up directly" % run.name)
    launcher.take_down(run, echo=lambda m: print("dmos: " + m))
    pids, files = run.leftovers()
    if pids or files:
        raise DmosError("cluster %s is not fully down: left pid %s, files %s" % (
            run.name, ", ".join(map(str, pids)) or "none", ", ".join(files) or "none"))
    disk = run.cfg.get("disk_path")
    print("cluster %s is down: stopped %s, pool %s %s%s; logs in %s" % (
        run.name, "%d of %d nodes (the others had exited)" % (alive, nodes)
        if alive < nodes else launcher.plural(nodes, "node"), pool_path,
        "kept (a device)" if run.cfg.get("pool_is_device") else "removed",
        ", disk %s %s" % (disk, "kept" if run.cfg.get("disk_kept") else "removed")
        if disk else "", os.path.relpath(run.dir)))
    return 0


def stale_run(name):
    """A cluster whose supervisor died but left QEMUs or files, or None."""
    runs = [cluster.Run(name)] if name else cluster.all_runs()
    stale = [r for r in runs if r.load() and any(r.leftovers())]
    if name or len(stale) == 1:
        return stale[0] if stale else None
    named = [r for r in stale if r.name == params.CLUSTER_DEFAULT]
    return named[0] if named else None


def _age(cfg):
    sec = int(time.time() - cfg.get("started_unix", time.time()))
    return "%dh%02dm" % (sec // 3600, sec // 60 % 60) if sec >= 3600 else \
        "%dm%02ds" % (sec // 60, sec % 60)


def status_of(run):
    """One cluster's status as a dict (what --json prints)."""
    cfg = run.cfg
    sup = run.supervisor()
    running = run.running()
    st = {"cluster": run.name, "running": running,
          "stale": not running and any(run.leftovers()),
          "supervisor_pid": sup[0] if sup and running else None,
          "mode": cfg.get("mode"), "started": cfg.get("started"),
          "started_unix": cfg.get("started_unix"),
          "stopped": cfg.get("stopped"), "accel": cfg.get("accel"),
          "run_dir": run.dir, "launcher_log": run.logfile,
          "pool_path": cfg["pool_path"], "pool_size": cfg["pool_size"],
          "doorbell": bool(cfg.get("doorbell")), "ivshmem_server": None, "nodes": [],
          "disk_path": cfg.get("disk_path"), "disk_size": cfg.get("disk_size"),
          "disk_kept": bool(cfg.get("disk_kept")), "net": cfg.get("net")}
    if cfg.get("disk_path"):
        st["disk"] = "present" if os.path.exists(cfg["disk_path"]) else \
            "removed" if cfg.get("stopped") else "missing"
    if cfg.get("doorbell"):
        rec = cfg.get("ivshmem") or {}
        pid = ivshmem.live_pid(cfg)
        peers = ivshmem.peers(ivshmem.paths(run.dir)[2]) if pid else {}
        st["ivshmem_server"] = {"pid": rec.get("pid"), "alive": bool(pid),
                                "exit": None if pid else rec.get("exit"),
                                "socket": rec.get("socket"), "log": rec.get("log"),
                                "peers": sorted(peers)}
    p = None
    if not os.path.exists(cfg["pool_path"]):
        st["pool"] = "removed" if cfg.get("stopped") else "missing"
    else:
        try:
            p = pool.read_pool(cfg["pool_path"])
            st["pool"] = ("formatted" if p.formatted else
                          "being formatted by node %d" % (p.format_claim - 1)
                          if p.formatting else "unformatted (no node has booted yet)")
        except pool.PoolError as e:
            st["pool"] = str(e)
    for nd in cfg["node"]:
        alive = bool(nd.get("pid")) and qemu.is_node(nd["pid"], nd.get("start"),
                                                     run.name, nd["id"])
        entry = p.node(nd["id"]) if p and p.formatted else None
        st["nodes"].append({
            "id": nd["id"], "pid": nd.get("pid"), "alive": alive,
            "exit": None if alive else nd.get("exit"), "gdb_port": nd["gdb_port"],
            "log": nd["log"], "cmdline": nd.get("cmdline"),
            "state": entry.state if entry else None,
            "link_down": entry.link_down if entry else None,
            "epoch": entry.epoch if entry else None,
            "heartbeat": entry.heartbeat if entry else None,
            "doorbell": entry.doorbell if entry else None})
    return st


def _short_exit(text):
    """'status -9, killed by SIGKILL' -> 'killed by SIGKILL'; 'status 0' -> 'exited, status 0'."""
    return text.split(", ", 1)[1] if ", killed by" in text else "exited, " + text


def print_status(st):
    head = "running, supervisor pid %d (%s), up %s" % (
        st["supervisor_pid"], st["mode"], _age(st)) if st["running"] else (
        "STALE: supervisor gone; `dmos down --cluster %s` cleans up" % st["cluster"]
        if st["stale"] else "not running (stopped %s)" % st["stopped"])
    print("cluster %s: %s" % (st["cluster"], head))
    print("  pool %s at %s: %s" % (params.fmt_size(st["pool_size"]), st["pool_path"],
                                   st["pool"]))
    if st["disk_path"]:
        print("  disk %s at %s: %s, %s" % (
            params.fmt_size(st["disk_size"]), st["disk_path"], st["disk"],
            "yours (kept on down)" if st["disk_kept"] else "removed on down"))
    else:
        print("  no disk")
    if st.get("net"):
        print("  " + launcher.vip_text(st["net"]))
    srv = st["ivshmem_server"]
    if not st["doorbell"]:
        print("  doorbell off: ivshmem-plain, the nodes poll for messages")
    elif srv["alive"]:
        print("  doorbell on: ivshmem-server pid %d, %d peer%s connected (%s), log %s"
              % (srv["pid"], len(srv["peers"]), "" if len(srv["peers"]) == 1 else "s",
                 " ".join(map(str, srv["peers"])) or "none", os.path.relpath(srv["log"])))
    else:
        print("  doorbell on: ivshmem-server %s, log %s" % (
            _short_exit(srv["exit"]) if srv["exit"] else "not running",
            os.path.relpath(srv["log"])))
    print("  %-4s %-22s %-6s %-8s %-4s %6s %10s %5s  %s" % (
        "node", "qemu", "gdb", "state", "link", "epoch", "heartbeat", "peer", "log"))
    for n in st["nodes"]:
        q = ("pid %d alive" % n["pid"] if n["alive"] else _short_exit(n["exit"])
             if n["exit"] else "pid %d gone" % n["pid"] if n["pid"] else "not started")
        dash = lambda v: "-" if v is None or v == -1 else v  # noqa: E731
        link = "-" if n["link_down"] is None else "down" if n["link_down"] else "up"
        print("  %-4d %-22s %-6d %-8s %-4s %6s %10s %5s  %s" % (
            n["id"], q, n["gdb_port"], dash(n["state"]), link, dash(n["epoch"]),
            dash(n["heartbeat"]), dash(n["doorbell"]), os.path.relpath(n["log"])))


def cmd_status(a):
    if a.cluster is not None:
        params.check_name(a.cluster)
        run = cluster.Run(a.cluster)
        if not run.load():
            raise DmosError("no cluster %r has run here (no %s)"
                            % (a.cluster, os.path.relpath(run.json)))
        runs = [run]
    else:
        runs = [r for r in cluster.all_runs() if r.running() or any(r.leftovers())]
    sts = [status_of(r) for r in runs]
    if a.json:
        print(json.dumps({"clusters": sts}, indent=2))
    elif not sts:
        print("no dmos cluster is running")
    for i, st in enumerate(sts if not a.json else []):
        if i:
            print()
        print_status(st)
    return 0 if sts and all(s["running"] for s in sts) else 1


def _node(a):
    run = cluster.pick(a.cluster)
    n = params.check_node(a.node, run.cfg["nodes"])
    nd = run.cfg["node"][n]
    if not (nd.get("pid") and qemu.is_node(nd["pid"], nd.get("start"), run.name, n)):
        raise DmosError("node %d of cluster %s is not running (%s)"
                        % (n, run.name, nd.get("exit") or nd.get("state")))
    return run, n, nd


def cmd_console(a):
    run, n, nd = _node(a)
    return console.attach(nd["sock"], nd["log"], "node%d of %s" % (n, run.name))


def cmd_kill(a):
    run, n, nd = _node(a)
    pid = nd["pid"]
    run.log("fault: dmos kill %d: SIGKILL to node %d's qemu pid %d" % (n, n, pid))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while qemu.alive(pid, nd.get("start")) and time.monotonic() < deadline:
        time.sleep(0.02)
    print("node %d of %s: killed qemu pid %d (SIGKILL); the other nodes keep running"
          % (n, run.name, pid))
    return 0


def cmd_gdb(a):
    run, n, nd = _node(a)
    if not os.path.exists(params.GDBINIT):
        print("dmos: note: %s does not exist yet" % params.GDBINIT, file=sys.stderr)
    print(launcher.gdb_command(nd["gdb_port"]))
    return 0


def _pool_of(a, verb="read"):
    """(pool path, the running cluster using it or None) from --cluster/--pool-path."""
    if not a.pool_path:
        try:
            run = cluster.pick(a.cluster)
        except DmosError as e:
            raise type(e)("%s; to %s a pool file or device, give --pool-path PATH"
                          % (e, verb))
        return run.cfg["pool_path"], run
    if not os.path.exists(a.pool_path):
        raise UsageError("--pool-path %s: no such file or device" % a.pool_path)
    return a.pool_path, None


def _running_on(path):
    """The running cluster whose pool is path, or None."""
    real = os.path.realpath(path)
    runs = [r for r in cluster.all_runs() if r.running() and
            os.path.realpath(r.cfg["pool_path"]) == real]
    return runs[0] if runs else None


def cmd_pool(a):
    path, run = _pool_of(a)
    run = run or _running_on(path)
    disk = a.disk_path or (run and run.cfg.get("disk_path"))
    if a.disk_path and not os.path.exists(a.disk_path):
        raise UsageError("--disk-path %s: no such file or device" % a.disk_path)
    try:
        report = inspector.inspect(path, disk if disk and os.path.exists(disk) else None)
    except pool.PoolError as e:
        raise DmosError(str(e))
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(inspector.describe(report)))
    if report["problems"]:
        sys.stdout.flush()
        n = len(report["problems"])
        raise DmosError("damaged pool %s: %s%s" % (
            path, report["problems"][0], "" if n == 1 else " (and %d more problems)"
            % (n - 1)))
    return 0


def cmd_net(a):
    path, run = _pool_of(a)
    run = run or _running_on(path)
    net = (run.cfg.get("net") or {}) if run else {}
    try:
        with pool.PoolFile(path) as f:
            rep = netview.net_report(f, pool.parse(f))
    except pool.PoolError as e:
        raise DmosError(str(e))
    rep["forwards"] = net.get("vip_ports", [])
    if a.json:
        print(json.dumps(rep, indent=2))
    else:
        print("\n".join(netview.describe(rep, rep["forwards"])))
    if rep["problems"]:
        sys.stdout.flush()
        raise DmosError("damaged port table in %s: %s" % (path, rep["problems"][0]))
    return 0


def cmd_fail_region(a):
    path, run = _pool_of(a, "fail a region of")
    try:
        frames, seq = inject.fail_region(path, a.region)
    except (pool.PoolError, inject.InjectError) as e:
        raise DmosError(str(e))
    r, run = int(a.region), run or _running_on(path)
    if run:
        run.log(inject.log_line(r, frames, seq))
    print("dmos: region %d failed (injected): %d device frames destroyed" % (r, frames))
    return 0


def cmd_fail_link(a):
    run = cluster.pick(a.cluster)
    try:
        inject.fail_link(run, a.node)
    except (pool.PoolError, inject.InjectError) as e:
        raise DmosError(str(e))
    n = int(a.node)
    run.log(inject.link_log_line(n, run.cfg["node"][n].get("pid")))
    print("dmos: node %d lost the pool (link down injected)" % n)
    return 0


def cmd_install(a):
    """Programs into /bin of the user's image, which no QEMU may have open."""
    path = os.path.abspath(a.disk_path)
    if not os.path.exists(path):
        raise UsageError("--disk-path %s does not exist; make a dmosfs there first "
                         "(build/tools/dmosfs mkfs %s --size 256M)" % (path, path))
    launcher.check_user_disk(path)
    if not os.access(params.DMOSFS, os.X_OK):
        raise UsageError("%s is missing: run make first" % os.path.relpath(params.DMOSFS))
    info = install.tool("info", path)
    if info.returncode != 0:
        raise UsageError("--disk-path %s holds no dmosfs (%s); make one with "
                         "build/tools/dmosfs mkfs" % (path, install.said(info)))
    n = install.install(path, a.src and os.path.abspath(a.src),
                        echo=lambda line: print("dmos: " + line, flush=True))
    print("installed %d programs into /bin of %s" % (n, path))
    return 0


COMMANDS = {"up": launcher.up, "down": cmd_down, "status": cmd_status,
            "console": cmd_console, "kill": cmd_kill, "gdb": cmd_gdb, "pool": cmd_pool,
            "net": cmd_net, "fail-region": cmd_fail_region, "fail-link": cmd_fail_link,
            "install": cmd_install}
