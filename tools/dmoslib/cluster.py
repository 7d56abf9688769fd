"""A cluster's run directory: what is running, and how to clean up after it.

Each cluster owns build/run/<name>/: cluster.json (parameters, pids, ports,
paths, times), launcher.log (the supervisor's timestamped events), node<N>.log
(serial consoles), ivshmem.log (the doorbell server's peers), and while it
runs supervisor.pid, node<N>.pid and the node<N>.sock / node<N>.qmp sockets,
plus ivshmem.pid and ivshmem.sock with the doorbell on, and disk.img, the
shared disk, unless the user brought one (--disk-path) or none. A cluster is
running while its supervisor (pid and start time from supervisor.pid) is
alive. After a crash, clean() removes what is left: QEMUs (checked by name,
never a recycled pid), the ivshmem-server (checked by its socket path),
sockets, pid files, the pool file and the disk image. Logs and cluster.json
always stay.
"""

import glob
import json
import os
import signal
import time

from . import ivshmem, params, qemu

DOC = ("cluster.json: written by tools/dmos. node ids are 0..nodes-1; sizes in bytes; "
       "'start' fields are /proc start times, so a recycled pid is never taken for ours.")


def now():
    return time.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (time.time() % 1 * 1000)


class Run:
    """The run directory of cluster `name` (it may not exist)."""

    def __init__(self, name):
        self.name = name
        self.dir = params.run_dir_for(name)
        self.json = os.path.join(self.dir, "cluster.json")
        self.pidfile = os.path.join(self.dir, "supervisor.pid")
        self.logfile = os.path.join(self.dir, "launcher.log")
        self.cfg = None

    def __repr__(self):
        return "Run(%r)" % self.name

    def load(self):
        """Read cluster.json; None if there is none (or it is unreadable)."""
        try:
            with open(self.json) as f:
                self.cfg = json.load(f)
        except (OSError, ValueError):
            self.cfg = None
        return self.cfg

    def save(self, cfg=None):
        """Write cluster.json atomically (a reader never sees half a file)."""
        if cfg is not None:
            self.cfg = cfg
        self.cfg["_doc"] = DOC
        tmp = self.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.cfg, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.json)

    def log(self, msg, echo=None):
        """Append one timestamped event to launcher.log (and echo it if asked)."""
        line = "%s %s" % (now(), msg)
        with open(self.logfile, "a") as f:
            f.write(line + "\n")
        if echo:
            echo(msg)

    def supervisor(self):
        """(pid, start) from supervisor.pid, or None."""
        try:
            with open(self.pidfile) as f:
                pid, start = f.read().split()[:2]
            return int(pid), int(start)
        except (OSError, ValueError):
            return None

    def write_pidfile(self, path, pid):
        start = qemu.start_time(pid)
        with open(path, "w") as f:
            f.write("%d %d\n" % (pid, start or 0))
        return start

    def running(self):
        """Is this cluster's supervisor alive?"""
        sup = self.supervisor()
        return bool(sup) and qemu.alive(*sup) and "dmos" in qemu.proc_cmdline(sup[0])

    def live_nodes(self):
        """[(n, pid)] of this cluster's QEMUs that are still running."""
        cfg = self.cfg or self.load()
        if not cfg:
            return []
        return [(nd["id"], nd["pid"]) for nd in cfg.get("node", [])
                if nd.get("pid") and qemu.is_node(nd["pid"], nd.get("start"),
                                                  self.name, nd["id"])]

    def pool_owned(self):
        """Pool path the launcher created (and so must delete), or None."""
        cfg = self.cfg or self.load()
        if not cfg or cfg.get("pool_is_device"):
            return None
        return cfg.get("pool_path")

    def disk_owned(self):
        """Disk image the launcher created for this run (and so must delete),
        if it is still there, else None. Only that very file (device and inode
        as recorded): never the user's image, nor a later run's."""
        cfg = self.cfg or self.load()
        if not cfg or not cfg.get("disk_path") or cfg.get("disk_kept"):
            return None
        try:
            st = os.stat(cfg["disk_path"])
        except OSError:
            return None
        return cfg["disk_path"] if [st.st_dev, st.st_ino] == cfg.get("disk_id") else None

    def remove_disk(self):
        """Remove the disk image this run created, once its nodes are stopped."""
        path = self.disk_owned()
        if path and not qemu.holders(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                return
            self.log("removed disk image %s" % path)

    def server_pid(self):
        """Pid of this cluster's ivshmem-server while it runs, else None."""
        cfg = self.cfg or self.load()
        return ivshmem.live_pid(cfg) if cfg else None

    def hub_pid(self):
        """Pid of this cluster's network hub while it runs, else None."""
        cfg = self.cfg or self.load()
        net = (cfg or {}).get("net") or {}
        pid = net.get("pid")
        if pid and qemu.alive(pid, net.get("start")) and (
                "-name dmos-%s-hub" % cfg["cluster"]) in qemu.proc_cmdline(pid):
            return pid
        return None

    def leftovers(self):
        """What a dead supervisor left behind: pids (QEMUs, then the
        ivshmem-server) and file paths."""
        files = sorted(glob.glob(os.path.join(self.dir, "*.sock")) +
                       glob.glob(os.path.join(self.dir, "*.qmp")) +
                       glob.glob(os.path.join(self.dir, "*.pid")))
        pool = self.pool_owned()
        if pool and os.path.exists(pool):
            files.append(pool)
        if self.disk_owned():
            files.append(self.disk_owned())
        server, hub = self.server_pid(), self.hub_pid()
        return ([pid for _, pid in self.live_nodes()] + ([hub] if hub else [])
                + ([server] if server else []), files)

    def clean(self, echo=None):
        """Stop leftover QEMUs, remove sockets, pid files, the pool file and the disk image.

        Returns a list of what was done (empty when nothing was left).
        """
        done = []
        pids, files = self.leftovers()
        server, hub = self.server_pid(), self.hub_pid()
        nodes = [p for p in pids if p not in (server, hub)]
        if nodes:
            done.append("stopped QEMU pid %s" % ", ".join(map(str, nodes)))
            stop_pids(nodes)
        if hub:
            done.append("stopped network hub pid %d" % hub)
            stop_pids([hub])
        if server:                      # after the QEMUs, as the supervisor does
            done.append("stopped ivshmem-server pid %d" % server)
            stop_pids([server])
        shared = {self.pool_owned(): "pool", self.disk_owned(): "disk image"}
        for path in files:
            if path in shared:
                others = qemu.holders(path)
                if others:
                    done.append("kept %s %s: still used by pid %s"
                                % (shared[path], path, ", ".join(map(str, others))))
                    continue
            try:
                os.unlink(path)
                done.append("removed %s" % path)
            except FileNotFoundError:
                pass
        if self.cfg and not self.cfg.get("stopped"):
            self.cfg["stopped"] = now()
            for nd in self.cfg.get("node", []) + [self.cfg.get("ivshmem") or {},
                                                   self.cfg.get("net") or {}]:
                if nd and nd.get("state") not in ("exited", "off"):
                    nd["state"] = "exited"
                    nd.setdefault("exit", "lost (supervisor gone)")
            self.save()
        if done and os.path.isdir(self.dir):
            for d in done:
                self.log("cleanup: " + d)
        if echo:
            for d in done:
                echo(d)
        return done


def stop_pids(pids, grace=params.STOP_GRACE, reap=None):
    """SIGTERM pids, then SIGKILL whatever is left after grace seconds.

    reap(pid) -> bool lets the parent collect its own children's status.
    """
    started = {p: qemu.start_time(p) for p in pids}
    for p in pids:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while True:
        left = [p for p in pids if not (reap and reap(p)) and qemu.alive(p, started[p])]
        if not left:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for p in left:
        _signal(p, signal.SIGKILL)
    while any(not (reap and reap(p)) and qemu.alive(p, started[p]) for p in left):
        time.sleep(0.02)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def all_runs():
    """Every cluster that has a run directory with a cluster.json."""
    runs = []
    for path in sorted(glob.glob(os.path.join(params.RUN_ROOT, "*", "cluster.json"))):
        r = Run(os.path.basename(os.path.dirname(path)))
        if r.load():
            runs.append(r)
    return runs


def pick(name):
    """The running cluster a command is about.

    With --cluster, that one. Without: 'dmos' if it runs, else the only running
    cluster; an error names the choices when that is ambiguous.
    """
    if name is not None:
        params.check_name(name)
        r = Run(name)
        if not r.running():
            raise params.DmosError("no cluster %r is running%s" % (
                name, _others_hint(name)))
        r.load()
        return r
    running = [r for r in all_runs() if r.running()]
    for r in running:
        if r.name == params.CLUSTER_DEFAULT:
            return r
    if len(running) == 1:
        return running[0]
    if not running:
        raise params.DmosError("no dmos cluster is running; start one with `dmos up`")
    raise params.UsageError("%d clusters are running (%s); choose one with --cluster NAME"
                            % (len(running), ", ".join(r.name for r in running)))


def _others_hint(name):
    others = [r.name for r in all_runs() if r.name != name and r.running()]
    return " (running: %s)" % ", ".join(others) if others else ""
