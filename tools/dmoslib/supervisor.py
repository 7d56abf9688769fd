"""The supervisor: the one process that owns a running cluster.

With the doorbell on it first starts the cluster's ivshmem-server (see
ivshmem.py) and, unless --no-net, the network hub (qemu.hub_argv), then
every node's QEMU (each dies with it: PR_SET_PDEATHSIG, the
server too), logs every event with a time to launcher.log, and in the
foreground streams each node's console to stdout as `node<N>| ...`. When a
node's QEMU exits (a crash, `dmos kill`, a guest halt) it logs how, removes
that node's sockets and pid file and keeps the others running. When the last
node is gone, or on SIGTERM, SIGINT or SIGHUP, it stops every QEMU (SIGTERM,
SIGKILL after 3 s), then the network hub and the ivshmem-server, deletes the pool file (never a
device the user gave), the sockets and the pid files, and exits.
"""

import os
import selectors
import signal
import sys

from . import cluster, ivshmem, params, qemu, terminal
from .logwatch import LogWatch


def status_text(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "status %d, killed by %s" % (rc, signal.Signals(-rc).name)
        except ValueError:
            return "status %d, killed by signal %d" % (rc, -rc)
    return "status %d" % rc


class Supervisor:
    def __init__(self, run, stream=False):
        self.run = run
        self.cfg = run.cfg
        self.stream = stream                    # foreground: echo to stdout
        self.color = stream and sys.stdout.isatty()
        self.procs = {}                         # node id -> Popen
        self.pipes = {}                         # node id -> partial QEMU output
        self.tails = {}
        self.sel = selectors.DefaultSelector()
        self.stop = None                        # why we are stopping
        self.server = None                      # Popen of the ivshmem-server
        self.hub = None                         # Popen of the network hub
        self.term = None                        # terminal.Terminal once every node joined
        self.joining = {}                       # node -> LogWatch of its whole log, until
                                                # it printed `cluster up`

    # --- output ---------------------------------------------------------
    def say(self, line):
        if not self.stream:
            return
        try:
            if self.term:
                self.term.line(line)
            else:
                print(line, flush=True)
        except OSError:                         # stdout closed: keep supervising
            self.stream = False

    def event(self, msg):
        self.run.log(msg, echo=lambda m: self.say("dmos| " + m))

    # --- life cycle -----------------------------------------------------
    def main(self):
        """Supervise until the cluster is down; returns the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        rc = 0
        try:
            self.event("supervisor pid %d: starting %d nodes of cluster %s (%s, pool %s "
                       "at %s, %s)" % (os.getpid(), self.cfg["nodes"], self.cfg["cluster"],
                                       self.cfg["accel"],
                                       params.fmt_size(self.cfg["pool_size"]),
                                       self.cfg["pool_path"], "doorbell on"
                                       if self.cfg.get("doorbell") else "no doorbell"))
            if self.cfg.get("doorbell"):
                try:
                    self.start_server()
                except params.DmosError as e:
                    self.stop, rc = "no ivshmem-server: %s" % e, 1
                    self.event(self.stop)
                    if self.stream:
                        print("dmos: %s" % e, file=sys.stderr)
            if self.cfg.get("net") and not self.stop:
                self.start_hub()
            for n in range(self.cfg["nodes"]):
                if self.stop:
                    break
                self.start(n)
            self.cfg["state"] = "running"
            self.run.save()
            while self.procs and not self.stop:
                self.poll()
            if not self.stop:
                self.stop = "every node has exited"
        except Exception as e:                  # never leave QEMUs or files behind
            self.stop = "supervisor error: %r" % e
            raise
        finally:
            self.shutdown()
        return rc

    def _on_signal(self, sig, frame):
        if not self.stop:
            self.stop = "got %s" % signal.Signals(sig).name
        elif self.stream and sig == signal.SIGINT:
            self.say("dmos| still stopping the cluster, please wait")

    def start_server(self):
        """Start the ivshmem-server; the nodes connect to it as they start."""
        self.server = ivshmem.start(self.cfg)
        sock, _, log = ivshmem.paths(self.run.dir)
        self.cfg["ivshmem"].update(pid=self.server.pid, start=qemu.start_time(self.server.pid),
                                   state="running", started=cluster.now())
        self.run.save()
        self.event("ivshmem-server started (pid %d, socket %s, %d vector%s per node, log %s)"
                   % (self.server.pid, os.path.relpath(sock), self.cfg["vectors"],
                      "" if self.cfg["vectors"] == 1 else "s", os.path.relpath(log)))

    def server_exited(self):
        """Log how the server ended; the nodes keep the pool they mapped."""
        status = status_text(self.server.returncode)
        self.cfg["ivshmem"].update(state="exited", exit=status, exited=cluster.now())
        self.server = None
        sock, pidfile, _ = ivshmem.paths(self.run.dir)
        for path in (sock, pidfile):
            _unlink(path)
        self.run.save()
        return status

    def stop_server(self):
        if not self.server:
            return
        pid = self.server.pid
        if self.server.poll() is None:
            cluster.stop_pids([pid], reap=lambda p: self.server.poll() is not None)
        self.server.wait()
        self.event("ivshmem-server pid %d stopped (%s)" % (pid, self.server_exited()))

    def start_hub(self):
        """Start the network hub; its sockets exist before any node sends."""
        net, log = self.cfg["net"], qemu.hub_log(self.run.dir)
        args = qemu.hub_argv(self.cfg)
        try:
            with open(log, "ab") as out:
                self.hub = qemu.spawn(args, out=out)
        except OSError as e:
            net.update(state="exited", exit="not started: %s" % e.strerror)
            self.event("network hub: cannot start %s: %s; the nodes have no network"
                       % (args[0], e.strerror))
            return
        net.update(pid=self.hub.pid, start=qemu.start_time(self.hub.pid), state="running",
                   argv=args, started=cluster.now())
        self.run.save()
        self.event("network hub started (pid %d, log %s): node N's tcp echo is at "
                   "127.0.0.1:%d+N" % (self.hub.pid, os.path.relpath(log),
                                       net["echo_ports"][0]))

    def hub_exited(self):
        status = status_text(self.hub.returncode)
        self.cfg["net"].update(state="exited", exit=status, exited=cluster.now())
        self.hub = None
        self.run.save()
        return status

    def stop_hub(self):
        if not self.hub:
            return
        pid = self.hub.pid
        if self.hub.poll() is None:
            cluster.stop_pids([pid], reap=lambda p: self.hub.poll() is not None)
        self.hub.wait()
        self.event("network hub pid %d stopped (%s)" % (pid, self.hub_exited()))

    def start(self, n):
        nd = self.cfg["node"][n]
        args = qemu.argv(self.cfg, n)
        try:
            p = qemu.spawn(args)
        except OSError as e:
            self.event("node %d: cannot start %s: %s" % (n, args[0], e.strerror))
            nd.update(state="exited", exit="not started: %s" % e.strerror)
            return
        self.procs[n] = p
        os.set_blocking(p.stdout.fileno(), False)
        self.sel.register(p.stdout, selectors.EVENT_READ, n)
        self.pipes[n] = b""
        nd.update(pid=p.pid, state="running", argv=args, started=cluster.now(),
                  start=self.run.write_pidfile(self._pidfile(n), p.pid))
        if self.stream:
            self.tails[n] = LogWatch(nd["log"], keep_color=self.color, stream=True)
            self.joining[n] = LogWatch(nd["log"])
        self.event("node %d: qemu started (pid %d, gdb 127.0.0.1:%d%s)"
                   % (n, p.pid, nd["gdb_port"],
                      ", waiting for gdb" if n in self.cfg["gdb_wait"] else ""))

    def _pidfile(self, n):
        return os.path.join(self.run.dir, "node%d.pid" % n)

    def poll(self):
        for key, _ in self.sel.select(0.1):
            if key.data == "stdin":
                self.term.on_input(self.switch)
                if not self.term.input_open:
                    self.sel.unregister(key.fileobj)
            elif key.data == "console":
                if not self.term.on_output():
                    self.sel.unregister(key.fileobj)
                    self.term.detach()
            else:
                self._read_pipe(key.data)
        if self.term and self.term.stop_request and not self.stop:
            self.stop = self.term.stop_request
        for n, p in list(self.procs.items()):
            if p.poll() is not None:
                self.exited(n)
        if self.hub and self.hub.poll() is not None:
            pid = self.hub.pid
            self.event("network hub pid %d exited (%s); the nodes' network is cut off"
                       % (pid, self.hub_exited()))
        if self.server and self.server.poll() is not None:
            pid = self.server.pid
            self.event("ivshmem-server pid %d exited (%s); the nodes keep their pool, "
                       "but no new doorbells are connected" % (pid, self.server_exited()))
        self.pump()

    def _read_pipe(self, n, final=False):
        p = self.procs[n]
        try:
            data = p.stdout.read() or b""
        except OSError:
            data = b""
        buf = self.pipes[n] + data
        *whole, rest = buf.split(b"\n")
        if final and rest:
            whole, rest = whole + [rest], b""
        self.pipes[n] = rest
        for w in whole:
            if w.strip():
                self.event("node %d: qemu says: %s" % (n, w.decode(errors="replace")
                                                       .rstrip()))

    def pump(self, final=False):
        """Copy new console lines of every node to stdout (foreground only);
        the node the terminal is attached to shows its own bytes instead."""
        for n, t in self.tails.items():
            if self.term and self.term.owns(n):
                t.take_partial()
                continue
            for line in t.new_lines(final, hold=self.term is not None):
                self.say("node%d| %s" % (n, line))
        # The whole log, not the lines shown: a QEMU descheduled mid-line
        # has its line shown in two pieces.
        for n, w in list(self.joining.items()):
            if w.search(params.JOIN_RE):
                del self.joining[n]
        if (self.stream and self.term is None and not self.stop and not self.joining
                and self.tails and terminal.wanted()):
            self.term = terminal.Terminal(self.run, self.say)
            if self.term.input_open:
                self.sel.register(0, selectors.EVENT_READ, "stdin")
            self.term.start(0, self.tails[0].take_partial())
            if self.term.sock is not None:
                self.sel.register(self.term.sock, selectors.EVENT_READ, "console")

    def switch(self, n):
        """Attach the terminal to node n's console instead (Ctrl-] n)."""
        old, sock = self.term.focus, self.term.sock
        if n not in self.procs:
            self.say("dmos| node %d is not running" % n)
            return False
        if sock is not None:
            self.sel.unregister(sock)
        if not self.term.attach(n, self.tails[n].take_partial()):
            if sock is not None:
                self.sel.register(sock, selectors.EVENT_READ, "console")
            return False
        if old is not None:
            self.tails[old].take_partial()      # shown already, through its socket
        self.sel.register(self.term.sock, selectors.EVENT_READ, "console")
        return True

    def exited(self, n):
        """Node n's QEMU has exited: log how, remove its sockets, keep the rest."""
        self._read_pipe(n, final=True)
        p = self.procs.pop(n)
        self.sel.unregister(p.stdout)
        p.stdout.close()
        status = status_text(p.returncode)
        nd = self.cfg["node"][n]
        nd.update(state="exited", exit=status, exited=cluster.now())
        sock, qmp, _ = qemu.sockets(self.run.dir, n)
        for path in (sock, qmp, self._pidfile(n)):
            _unlink(path)
        self.pump(final=True)
        self.event("node %d: qemu exited (%s)%s" % (
            n, status, "" if self.procs or self.stop else "; it was the last node"))
        self.run.save()

    def _reap(self, pid):
        for n, p in list(self.procs.items()):
            if p.pid == pid and p.poll() is not None:
                self.exited(n)
                return True
        return False

    def shutdown(self):
        """Stop every QEMU, remove sockets, pid files and the pool file."""
        if self.term:
            self.term.restore()
            self.term = None
            print(flush=True)
        self.event("stopping cluster %s: %s" % (self.cfg["cluster"], self.stop))
        if self.procs:
            pids = [p.pid for p in self.procs.values()]
            cluster.stop_pids(pids, reap=self._reap)
            for n in list(self.procs):
                self.procs[n].wait()
                self.exited(n)
        self.stop_hub()
        self.stop_server()
        pool = self.run.pool_owned()
        if pool:
            if _unlink(pool):
                self.event("removed pool file %s" % pool)
        else:
            self.event("kept pool device %s" % self.cfg["pool_path"])
        for n in range(self.cfg["nodes"]):
            for path in (qemu.sockets(self.run.dir, n)[:2] + qemu.net_paths(self.run.dir, n)
                         + (self._pidfile(n),)):
                _unlink(path)
        for path in ivshmem.paths(self.run.dir)[:2]:
            _unlink(path)
        self.cfg.update(state="down", stopped=cluster.now(), stop_reason=self.stop)
        self.run.save()
        _unlink(self.run.pidfile)
        self.event("cluster %s is down; logs are in %s" % (self.cfg["cluster"],
                                                           os.path.relpath(self.run.dir)))


def _unlink(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def daemon_main(run_dir):
    """Entry of `dmos _supervise RUN_DIR`, the detached supervisor."""
    run = cluster.Run(os.path.basename(run_dir.rstrip("/")))
    if not run.load():
        print("dmos: no cluster.json in %s" % run_dir, file=sys.stderr)
        return 2
    return Supervisor(run, stream=False).main()
