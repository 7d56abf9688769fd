"""`dmos up` and `dmos down`: bring a cluster up and take it down again.

up() first checks everything (sizes, name, ISO, QEMU, ports, the pool path,
whether the cluster already runs) without touching anything, so a refused
command leaves no trace. Then, holding a lock on build/run, it cleans what a
crashed run left behind, creates the run directory, the pool file (zero
filled), the shared disk image (sparse, zero filled) and cluster.json, and
either becomes the supervisor (foreground) or starts one as a daemon and
waits for every node's `cluster up` line (joined.py). The doorbell
(ivshmem-doorbell and the cluster's ivshmem-server, ivshmem.py) is on unless
--no-doorbell.

The shared disk: every node opens one raw image as its virtio-blk disk,
like servers sharing a LUN on a SAN. `--disk SIZE` (the default) creates it
in the run dir, which is on a real file system: it is storage, and in
/dev/shm beside the pool every block written would sit in RAM. It is
formatted as a dmosfs (build/tools/dmosfs mkfs, one journal per node)
holding the programs of the build in /bin (install.py), and goes when the
cluster goes down. `--disk-path` uses an image (or block device)
the user keeps: never created, truncated or deleted. `--no-disk`: none.
take_down() stops a cluster through its supervisor, or cleans up directly
when the supervisor is gone.
"""

import fcntl
import os
import shutil
import socket
import stat
import subprocess
import sys
import time

from . import cluster, install, ivshmem, joined, params, qemu
from .params import UsageError
from .supervisor import Supervisor

DMOS = os.path.join(params.REPO, "tools", "dmos")


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as QEMU does
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def claimed_ports(name):
    """gdb and network ports of other running clusters (their QEMUs may not
    listen yet)."""
    ports = set()
    for r in cluster.all_runs():
        if r.name != name and r.running():
            ports.update(nd["gdb_port"] for nd in r.cfg["node"])
            net = r.cfg.get("net") or {}
            ports.update(net.get("echo_ports", ()), net.get("http_ports", ()),
                         (host for _, _, host in net.get("vip_ports", ())))
    return ports


def pick_gdb_base(given, nodes, claimed=frozenset(), option="--gdb-base", shift=0, count=None):
    """The first gdb port: --gdb-base if free, else this user's range or the
    next free one. With option="--net-base", shift half the ranges and count
    the ports it takes, the same for the host ports forwarded to the network."""
    count = count or nodes
    def free(p):
        return p not in claimed and port_free(p)
    if given is not None:
        params.check_port(given, count, option)
        busy = [p for p in range(given, given + count) if not free(p)]
        if busy:
            raise UsageError("%s %d: port %d on 127.0.0.1 is in use; choose "
                             "another base or leave it out" % (option, given, busy[0]))
        return given
    ranges = (65536 - params.GDB_BASE) // params.GDB_SPAN - 1
    first = params.gdb_range() + shift
    for i in range(ranges):
        base = params.GDB_BASE + (first + i) % ranges * params.GDB_SPAN
        if all(free(p) for p in range(base, base + count)):
            return base
    raise UsageError("no %d free ports for %s on 127.0.0.1 above %d; give "
                     "%s PORT" % (count, "gdb stubs" if shift == 0 else "the network",
                                  params.GDB_BASE, option))


NET_SHIFT = (65536 - params.GDB_BASE) // params.GDB_SPAN // 2   # net ports: far from gdb's


def pick_net(a, nodes, gdb_base, claimed):
    """The host ports forwarded to the network (qemu.net_ports), or None with --no-net."""
    if a.no_net:
        if a.net_base is not None:
            raise UsageError("--no-net with --net-base: choose one")
        return None
    claimed = set(claimed) | set(range(gdb_base, gdb_base + nodes))
    base = pick_gdb_base(a.net_base, nodes, claimed, "--net-base", NET_SHIFT,
                         qemu.net_port_count(nodes))
    return dict(qemu.net_ports(base, nodes), pid=None, start=None, state="starting")


def who(pid):
    """A short description of a process for messages."""
    cmd = qemu.proc_cmdline(pid)
    if "-name dmos-" in cmd:
        return "pid %d (QEMU %s)" % (pid, cmd.split("-name ", 1)[1].split()[0])
    if "ivshmem-server --socket " in cmd:
        sock = cmd.split("ivshmem-server --socket ", 1)[1].split()[0]
        return "pid %d (ivshmem-server of cluster %s)" % (
            pid, os.path.basename(os.path.dirname(sock)))
    return "pid %d (%s)" % (pid, cmd[:60].strip() or "?")


def check_pool_path(given, name, size, stale):
    """(path, is_device) of the pool; refuses a path that is in use or not ours."""
    default = params.pool_path_for(name)
    path = os.path.abspath(given) if given else default
    ours = {default} | ({stale.cfg.get("pool_path")} if stale and stale.cfg else set())
    exclude = {pid for _, pid in stale.live_nodes()} | {stale.server_pid()} if stale \
        else set()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError("pool path %s: %s" % (path, e.strerror))
    if st is not None:
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise UsageError("pool path %s is neither a file nor a character device "
                             "(such as /dev/dax0.0)" % path)
        users = qemu.holders(path, exclude)
        if users:
            raise UsageError("pool %s is in use by %s; stop that first or choose "
                             "another --pool-path" % (path, ", ".join(map(who, users))))
        if stat.S_ISCHR(st.st_mode):
            return path, True
        if path not in ours:
            # a pool image the user keeps: booted as it is, never zeroed or deleted
            if st.st_size != size:
                raise UsageError("pool image %s is %s, but --pool is %s; give the "
                                 "image's size" % (path, params.fmt_size(st.st_size),
                                                   params.fmt_size(size)))
            return path, True
    parent = os.path.dirname(path)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise UsageError("cannot create the pool file in %s: no such writable "
                         "directory" % parent)
    vfs = os.statvfs(parent)
    free = vfs.f_bavail * vfs.f_frsize + (st.st_size if st else 0)
    if size > free:
        raise UsageError("--pool %s does not fit in %s (%s free); choose a smaller "
                         "pool" % (params.fmt_size(size), parent,
                                   params.fmt_size(free - free % params.MiB)))
    return path, False


def _device_size(path):
    with open(path, "rb") as f:
        return f.seek(0, os.SEEK_END)


def check_disk(a, run_dir, stale):
    """(path, size, kept) of the shared disk: kept is True for the user's
    image; (None, 0, False) with --no-disk. Refuses a disk in use or not usable."""
    if a.no_disk:
        if a.disk is not None or a.disk_path:
            raise UsageError("--no-disk with --%s: choose one"
                             % ("disk" if a.disk is not None else "disk-path"))
        return None, 0, False
    if not a.disk_path:
        size = params.check_disk(a.disk if a.disk is not None else params.DISK_DEFAULT)
        if not os.access(params.DMOSFS, os.X_OK):
            raise UsageError("%s is missing: run make first (or give --disk-path or "
                             "--no-disk)" % os.path.relpath(params.DMOSFS))
        install.programs()                      # the disk gets them: refuses a build without
        home = run_dir
        while not os.path.isdir(home):          # the run dir may not exist yet
            home = os.path.dirname(home)
        vfs = os.statvfs(home)
        free = vfs.f_bavail * vfs.f_frsize
        if size > free:
            raise UsageError("--disk %s does not fit in %s (%s free); choose a smaller "
                             "disk" % (params.fmt_size(size), home,
                                       params.fmt_size(free - free % params.MiB)))
        return os.path.join(run_dir, params.DISK_IMAGE), size, False
    if a.disk is not None:
        raise UsageError("--disk-path %s has a size of its own; leave out --disk"
                         % a.disk_path)
    path = os.path.abspath(a.disk_path)
    if os.path.realpath(os.path.dirname(path)) == os.path.realpath(run_dir):
        raise UsageError("--disk-path %s is in the cluster's run dir, which `up` empties; "
                         "keep the image elsewhere" % path)
    exclude = {pid for _, pid in stale.live_nodes()} if stale else set()
    return path, check_user_disk(path, exclude), True


def check_user_disk(path, exclude=()):
    """The size of the user's disk image or block device at path (absolute),
    refusing one that is missing, unusable or open in a QEMU (other than
    the pids in exclude)."""
    what = "--disk-path %s" % path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError("%s does not exist; create the image first (e.g. truncate -s "
                         "256M %s) or give --disk SIZE" % (what, path))
    except OSError as e:
        raise UsageError("%s: %s" % (what, e.strerror))
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise UsageError("%s is neither a regular file nor a block device" % what)
    if not os.access(path, os.R_OK | os.W_OK):
        raise UsageError("%s is not readable and writable for you" % what)
    try:
        size = st.st_size if stat.S_ISREG(st.st_mode) else _device_size(path)
    except OSError as e:
        raise UsageError("%s: %s" % (what, e.strerror))
    if not size or size % params.SECTOR:
        raise UsageError("%s is %d bytes; a disk is a whole number of %d-byte sectors, "
                         "at least one" % (what, size, params.SECTOR))
    users = qemu.holders(path, exclude)
    if users:
        raise UsageError("disk %s is in use by %s; stop that first or choose another "
                         "--disk-path" % (path, ", ".join(map(who, users))))
    return size


def check_doorbell(doorbell, pool_path, run_dir):
    """Refuse what the doorbell cannot serve, and socket paths too long to bind."""
    socks = [qemu.sockets(run_dir, 0)[0], ivshmem.paths(run_dir)[0]]
    too_long = [p for p in socks if len(os.fsencode(p)) > params.SOCKET_PATH_MAX]
    if too_long:
        raise UsageError("socket path %s is longer than a unix socket allows (%d bytes); "
                         "use a shorter --cluster name or repo path"
                         % (too_long[-1], params.SOCKET_PATH_MAX))
    if not doorbell:
        return
    if not os.path.isfile(params.ivshmem_server()):
        raise UsageError("the doorbell needs %s, which is missing; restore it or give "
                         "--no-doorbell" % params.ivshmem_server())
    if os.path.exists(pool_path) and not os.path.isfile(pool_path):
        raise UsageError("pool %s is a device: ivshmem-server only serves pool files; "
                         "give --no-doorbell to map the device with ivshmem-plain"
                         % pool_path)


def plan(a):
    """Check every input of `dmos up`; return (run, cfg). Changes nothing."""
    nodes = params.check_nodes(a.nodes)
    mem = params.check_mem(a.mem)
    pool_size = params.check_pool(a.pool)
    name = params.check_name(a.cluster)
    iso = params.check_iso(a.iso or params.DEFAULT_ISO, a.iso is not None)
    node_args = params.parse_node_args(a.node_arg, nodes)
    gdb_wait = sorted({params.check_node(n, nodes, "--gdb-wait node") for n in a.gdb_wait})
    params.check_timeout(a.timeout)
    binary = shutil.which(params.qemu_binary())
    if not binary:
        raise UsageError("QEMU %s not found; install it (apt-get install "
                         "qemu-system-x86) or set DMOS_QEMU" % params.qemu_binary())
    run = cluster.Run(name)
    if run.running():
        raise UsageError("cluster %r is already running (supervisor pid %d); stop it "
                         "with `dmos down --cluster %s` or choose another --cluster"
                         % (name, run.supervisor()[0], name))
    stale = run if run.load() else None
    pool_path, is_device = check_pool_path(a.pool_path, name, pool_size, stale)
    doorbell = not a.no_doorbell
    check_doorbell(doorbell, pool_path, run.dir)
    disk_path, disk_size, disk_kept = check_disk(a, run.dir, stale)
    if a.fs_cache == "private" and not disk_path:
        raise UsageError("--fs-cache private with --no-disk: without a disk there is no "
                         "page cache to make private")
    gdb_base = pick_gdb_base(a.gdb_base, nodes, claimed_ports(name))
    net = pick_net(a, nodes, gdb_base, claimed_ports(name))
    sock, pidfile, log = ivshmem.paths(run.dir)
    cfg = dict(cluster=name, nodes=nodes, mem=mem, pool_size=pool_size,
               pool_path=pool_path, pool_is_device=is_device, iso=iso, qemu=binary,
               doorbell=doorbell, vectors=params.DOORBELL_VECTORS,
               disk_path=disk_path, disk_size=disk_size, disk_kept=disk_kept, disk_id=None,
               fs_cache=a.fs_cache, net=net,
               ivshmem=dict(pid=None, start=None, state="starting", socket=sock,
                            pidfile=pidfile, log=log) if doorbell else None,
               accel="kvm" if qemu.kvm_usable() else "tcg",
               node_args={str(n): s for n, s in node_args.items()},
               gdb_base=gdb_base, gdb_wait=gdb_wait, run_dir=run.dir, repo=params.REPO,
               mode="detached" if a.detach else "foreground", state="starting",
               started=cluster.now(), started_unix=time.time(), stopped=None,
               command=" ".join(sys.argv))
    cfg["node"] = []
    for n in range(nodes):
        sock, qmp, log = qemu.sockets(run.dir, n)
        cfg["node"].append(dict(id=n, pid=None, start=None, state="starting",
                                gdb_port=gdb_base + n, log=log, sock=sock, qmp=qmp,
                                cmdline=qemu.cmdline(cfg, n)))
    return run, cfg


def up(a):
    """`dmos up`: returns the exit status."""
    run, cfg = plan(a)
    os.makedirs(params.RUN_ROOT, exist_ok=True)
    lock = os.open(params.RUN_ROOT, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if run.running():                       # lost a race with another `up`
            raise UsageError("cluster %r was started by someone else just now"
                             % run.name)
        base = pick_gdb_base(a.gdb_base, cfg["nodes"], claimed_ports(run.name))
        if base != cfg["gdb_base"]:             # another `up` took them meanwhile
            cfg["gdb_base"] = base
            for nd in cfg["node"]:
                nd["gdb_port"] = base + nd["id"]
        if run.load():
            for what in run.clean():
                print("dmos: cleaned up after a crashed run of %s: %s" % (run.name, what))
        created = create(run, cfg)
        try:
            if a.detach:
                with open(run.logfile, "ab") as log:
                    sup = subprocess.Popen(
                        [sys.executable, DMOS, "_supervise", run.dir], cwd=params.REPO,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        start_new_session=True, close_fds=True)
                run.write_pidfile(run.pidfile, sup.pid)
            else:
                run.write_pidfile(run.pidfile, os.getpid())
        except BaseException:
            for path in created + [run.pidfile]:
                _unlink(path)
            raise
    finally:
        os.close(lock)
    intro(run)
    if a.detach:
        return joined.wait_joined(run, sup, a.timeout, take_down)
    try:
        return Supervisor(run, stream=True).main()
    finally:
        run.remove_disk()


def create(run, cfg):
    """Make the run dir (old logs go), the pool file, the disk image and cluster.json."""
    os.makedirs(run.dir, exist_ok=True)
    for f in os.listdir(run.dir):
        p = os.path.join(run.dir, f)
        if not os.path.isdir(p):
            os.unlink(p)
    created = []
    if not cfg["pool_is_device"]:
        if os.path.exists(cfg["pool_path"]):    # a crashed run's; checked unused
            print("dmos: replacing stale pool file %s (no process uses it)"
                  % cfg["pool_path"])
            os.unlink(cfg["pool_path"])
        try:
            fd = os.open(cfg["pool_path"], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.ftruncate(fd, cfg["pool_size"])  # sparse: reads as zeros
            os.close(fd)
        except OSError as e:
            _unlink(cfg["pool_path"])
            raise params.DmosError("cannot create pool %s: %s"
                                   % (cfg["pool_path"], e.strerror))
        created.append(cfg["pool_path"])
    if cfg["disk_path"] and not cfg["disk_kept"]:
        try:
            fd = os.open(cfg["disk_path"], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            created.append(cfg["disk_path"])
            os.ftruncate(fd, cfg["disk_size"])  # sparse: reads as zeros
            st = os.fstat(fd)
            os.close(fd)
        except OSError as e:
            for path in created:
                _unlink(path)
            raise params.DmosError("cannot create disk image %s: %s"
                                   % (cfg["disk_path"], e.strerror))
        cfg["disk_id"] = [st.st_dev, st.st_ino]   # down removes this file, no other
        mkfs = subprocess.run([params.DMOSFS, "mkfs", cfg["disk_path"], "--label",
                               cfg["cluster"], "--journals",
                               str(max(cfg["nodes"], params.DISK_JOURNALS_MIN))],
                              capture_output=True, text=True)
        if mkfs.returncode != 0:
            for path in created:
                _unlink(path)
            raise params.DmosError("cannot format the disk: %s"
                                   % (mkfs.stderr or mkfs.stdout).strip())
        run.log(mkfs.stdout.strip())
        try:
            n = install.install(cfg["disk_path"], echo=run.log)
            install.www(cfg["disk_path"], cfg["cluster"], cfg["nodes"], echo=run.log)
        except params.DmosError as e:
            for path in created:
                _unlink(path)
            raise params.DmosError("cannot install the programs on the disk: %s" % e)
        run.log("installed %d programs into /bin of the disk" % n)
    run.save(cfg)
    run.log("dmos up: %s" % cfg["command"])
    return created


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def gdb_command(port):
    return "gdb -x %s -ex 'target remote 127.0.0.1:%d'" % (params.GDBINIT, port)


def intro(run):
    c = run.cfg
    last = c["gdb_base"] + c["nodes"] - 1
    print("cluster %s: %s, %s each, pool %s at %s, %s, %s, %s" % (
        c["cluster"], plural(c["nodes"], "node"), params.fmt_size(c["mem"]),
        params.fmt_size(c["pool_size"]), c["pool_path"], disk_text(c),
        "kvm" if c["accel"] == "kvm" else "tcg (multi-threaded)",
        "doorbell on (ivshmem-server)" if c.get("doorbell")
        else "no doorbell (nodes poll)"))
    print("gdb port%s 127.0.0.1:%d%s; run dir %s%s" % (
        "s" if c["nodes"] > 1 else "", c["gdb_base"], "..%d" % last if c["nodes"] > 1 else "",
        os.path.relpath(run.dir), "" if c["mode"] == "detached" else
        "; Ctrl-C stops the cluster"))
    net = c.get("net")
    if net:
        print("network: the nodes are %s..%s on one segment behind slirp (gateway %s); "
              "each node's tcp echo (port %d) is at %s" % (
                  qemu.node_ip(0), qemu.node_ip(c["nodes"] - 1), qemu.NET_GATEWAY,
                  qemu.NET_ECHO_PORT, ", ".join("127.0.0.1:%d (node %d)" % (p, n)
                                                for n, p in enumerate(net["echo_ports"]))))
        print(vip_text(net))
        web = [host for proto, port, host in net.get("vip_ports", ()) if (proto, port) == (
            "tcp", qemu.NET_HTTP_PORT)]
        if web and "init=init" in " ".join(c.get("node_args", {}).values()):
            print("web: every node's init starts httpd; the cluster's HTTP server is at "
                  "curl http://127.0.0.1:%d/status (the cluster IP's port %d; each "
                  "connection is served by one node, which the page names)"
                  % (web[0], qemu.NET_HTTP_PORT))
    for n in c["gdb_wait"]:
        print("node %d waits for gdb: %s" % (n, gdb_command(c["gdb_base"] + n)))
    sys.stdout.flush()


def vip_text(net):
    """'vip 10.0.2.100: tcp 7 at 127.0.0.1:P, ...; node N's tcp 80 at ...'."""
    http = net.get("http_ports") or []
    return "vip %s: %s%s" % (
        net.get("vip", qemu.VIP), ", ".join("%s %d at 127.0.0.1:%d" % tuple(v)
                                            for v in net.get("vip_ports", ())) or "no ports",
        "; node N's tcp %d at 127.0.0.1:%d+N" % (qemu.NET_HTTP_PORT, http[0]) if http else "")


def disk_text(cfg):
    """'disk 256M at PATH' and whose it is, or 'no disk'."""
    if not cfg.get("disk_path"):
        return "no disk"
    return "disk %s at %s (%s%s)" % (params.fmt_size(cfg["disk_size"]), cfg["disk_path"],
                                     "yours, kept" if cfg.get("disk_kept")
                                     else "removed on down",
                                     ", a private page cache per node"
                                     if cfg.get("fs_cache") == "private" else "")


def take_down(run, echo=None):
    """Stop the cluster: SIGTERM its supervisor and wait, else clean directly.

    Returns what had to be cleaned by hand (empty when the supervisor did it).
    """
    sup = run.supervisor()
    if sup and run.running():
        try:
            os.kill(sup[0], 15)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + params.DOWN_WAIT
        while qemu.alive(*sup) and time.monotonic() < deadline:
            time.sleep(0.05)
        if qemu.alive(*sup):
            if echo:
                echo("supervisor pid %d did not stop in %g s; killing it"
                     % (sup[0], params.DOWN_WAIT))
            os.kill(sup[0], 9)
            while qemu.alive(*sup):
                time.sleep(0.02)
    run.load()
    return run.clean(echo)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
