"""One node's QEMU: its command line, how it is started, and its sockets.

argv() builds the exact qemu-system-x86_64 command line of a node (q35,
multi-threaded TCG unless KVM is really usable, the pool as ivshmem-doorbell
served by the cluster's ivshmem-server, or as ivshmem-plain on the pool file
with --no-doorbell, the shared disk as legacy virtio-blk, a serial socket (COM1)
and a log file (COM2), a QMP socket, a gdb stub, and the kernel's command
line in fw_cfg opt/dmos/cmdline). spawn()
starts it (or the ivshmem-server) so that it can never outlive its
supervisor. The /proc helpers identify a process by pid and start time, so a
recycled pid is never taken for a node. qmp() sends one QMP command, for
fault injection and status (QMP keeps a connection open for several).
"""

import ctypes
import json
import os
import signal
import socket
import subprocess

from . import params

PR_SET_PDEATHSIG = 1


def kvm_usable():
    """KVM only when asked (DMOS_KVM=1) and the CPU really has vmx/svm.

    This project's machines have a nested, paravirtual /dev/kvm under which a
    kernel boots in ~50 s and SSE kills the guest; TCG is the safe default.
    """
    if os.environ.get("DMOS_KVM") != "1" or not os.path.exists("/dev/kvm"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = set()
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
    except OSError:
        return False
    return bool(flags & {"vmx", "svm"})


def sockets(run_dir, n):
    """Paths of node n's serial socket, QMP socket and serial log."""
    base = os.path.join(run_dir, "node%d" % n)
    return base + ".sock", base + ".qmp", base + ".log"


def _opt(s):
    """Escape a value for a QEMU -opt list (a comma is written twice)."""
    return s.replace(",", ",,")


def cmdline(cfg, n):
    """The kernel's command line of node n."""
    words = ["node=%d" % n, "nodes=%d" % cfg["nodes"], "cluster=%s" % cfg["cluster"]]
    if not cfg.get("pool_is_device"):           # a pool file we created sparse: all zeros
        words.append("poolzero=1")
    if cfg.get("fs_cache") == "private":        # `up --fs-cache private`
        words.append("fscache=private")
    extra = cfg["node_args"].get(str(n), "")
    return " ".join(words + ([extra] if extra else []))


def server_paths(run_dir):
    """Paths of the cluster's ivshmem-server socket, pid file and log."""
    base = os.path.join(run_dir, "ivshmem")
    return base + ".sock", base + ".pid", base + ".log"


def pool_args(cfg):
    """How a node gets the pool: from the ivshmem-server (with its doorbell,
    the memory comes from the server) or straight from the pool file."""
    if cfg.get("doorbell"):
        return ["-chardev", "socket,id=ivs,path=%s" % _opt(server_paths(cfg["run_dir"])[0]),
                "-device", "ivshmem-doorbell,chardev=ivs,vectors=%d" % cfg["vectors"]]
    return ["-object", "memory-backend-file,id=pool,share=on,mem-path=%s,size=%d"
            % (_opt(cfg["pool_path"]), cfg["pool_size"]),
            "-device", "ivshmem-plain,memdev=pool"]


def disk_args(cfg):
    """The shared disk: every node opens the same raw image, as servers share
    a LUN. QEMU locks an image against a second writer unless told not to
    (file.locking=off, and share-rw=on for its permission checks); the nodes'
    QEMUs share the host's page cache, so one node reads what another wrote.
    disable-modern=on leaves the transitional device's legacy interface
    only: 1af4:1001 with its registers in I/O BAR 0, as fs/virtio_pci.c
    drives it."""
    if not cfg.get("disk_path"):
        return []
    return ["-drive", "file=%s,format=raw,if=none,id=disk0,file.locking=off"
            % _opt(cfg["disk_path"]),
            "-device", "virtio-blk-pci,drive=disk0,share-rw=on,disable-modern=on"]


# The cluster's network (docs/net.md): one L2 segment, slirp's 10.0.2.0/24.
NET_ECHO_PORT = 7               # the kernel's TCP echo service (net/net.h)
NET_GATEWAY = "10.0.2.2"        # slirp
NET_HTTP_PORT = 80              # each node's own HTTP port, forwarded for benchmarks
VIP = "10.0.2.100"              # the cluster IP (net/vip.h VIP_DEFAULT)
# The VIP's ports the host reaches through slirp: (protocol, port). Host port
# net_base + 2 * nodes + i is the i-th (see net_ports()).
VIP_FORWARDS = (("tcp", 7), ("tcp", 80), ("tcp", 6379))   # echo, httpd, kvd


def net_ports(base, nodes):
    """The host ports of a cluster's network, from the base: node N's tcp echo
    at base + N, node N's tcp 80 at base + nodes + N, then the VIP's
    VIP_FORWARDS. A dict as cluster.json keeps it under "net"."""
    return dict(echo_ports=[base + n for n in range(nodes)],
                http_ports=[base + nodes + n for n in range(nodes)],
                vip=VIP, vip_ports=[[proto, port, base + 2 * nodes + i]
                                    for i, (proto, port) in enumerate(VIP_FORWARDS)])


def net_port_count(nodes):
    """How many host ports net_ports() takes from its base."""
    return 2 * nodes + len(VIP_FORWARDS)


def node_ip(n):
    """Node n's own address, as the kernel picks it without ip= (net/netif.c)."""
    return "10.0.2.%d" % (15 + n)


def node_mac(n):
    return "52:54:00:00:00:%02x" % n


def net_paths(run_dir, n):
    """Unix datagram sockets of node n's link: its QEMU's end, the hub's end."""
    return (os.path.join(run_dir, "net%d.sock" % n), os.path.join(run_dir, "hub%d.sock" % n))


def hub_log(run_dir):
    return os.path.join(run_dir, "hub.log")


def _dgram(name, local, remote):
    return ("dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s"
            % (name, _opt(local), _opt(remote)))


def hub_argv(cfg):
    """The cluster's network hub: a QEMU without a machine (-M none) whose
    only devices are netdevs on one hub: slirp (user mode networking, the
    gateway to the host, with each node's echo and HTTP ports and the
    VIP's ports forwarded from 127.0.0.1: net_ports()) and, per node, a unix datagram socket pair to that node's
    NIC. The hub repeats every frame to every other port, as an Ethernet
    hub does. No root, no taps, no host addresses.

    restrict=on: slirp sees the frames nodes send each other, and would
    take a connection to any address of its network as one to the host's
    loopback and open it; restricted, it opens none but the forwards (it
    answers the others with a RST, which the nodes drop: net/spoof.c)."""
    net = cfg["net"]
    fwd = "".join(",hostfwd=tcp:127.0.0.1:%d-%s:%d" % (port, node_ip(n), NET_ECHO_PORT)
                  for n, port in enumerate(net["echo_ports"]))
    fwd += "".join(",hostfwd=tcp:127.0.0.1:%d-%s:%d" % (port, node_ip(n), NET_HTTP_PORT)
                   for n, port in enumerate(net.get("http_ports", ())))
    fwd += "".join(",hostfwd=%s:127.0.0.1:%d-%s:%d" % (proto, host, net["vip"], port)
                   for proto, port, host in net.get("vip_ports", ()))
    a = [cfg["qemu"], "-M", "none", "-nodefaults", "-display", "none", "-monitor", "none",
         "-serial", "none", "-netdev", "user,id=slirp,net=10.0.2.0/24,restrict=on" + fwd,
         "-netdev", "hubport,id=up,hubid=0,netdev=slirp"]
    for n in range(cfg["nodes"]):
        node, hub = net_paths(cfg["run_dir"], n)
        a += ["-netdev", _dgram("link%d" % n, hub, node),
              "-netdev", "hubport,id=port%d,hubid=0,netdev=link%d" % (n, n)]
    return a + ["-name", "dmos-%s-hub" % cfg["cluster"]]


def net_args(cfg, n):
    """Node n's NIC: legacy virtio-net (disable-modern=on, as the disk) on its
    datagram link to the hub, with the node's fixed MAC."""
    if not cfg.get("net"):
        return []
    node, hub = net_paths(cfg["run_dir"], n)
    return ["-netdev", _dgram("net0", node, hub),
            "-device", "virtio-net-pci,netdev=net0,mac=%s,disable-modern=on" % node_mac(n)]


def argv(cfg, n):
    """The QEMU command line of node n of the cluster described by cfg."""
    sock, qmp, log = sockets(cfg["run_dir"], n)
    a = [cfg["qemu"], "-machine", "q35"]
    a += ["-accel", "kvm"] if cfg["accel"] == "kvm" else ["-accel", "tcg,thread=multi"]
    # "-tsc" clears CPUID's TSC bit only: GRUB 2.06 (BIOS) then skips its
    # 55 ms busy-wait TSC calibration on the PIT, a fifth of a node's boot
    # under TCG. rdtsc still works, and the kernel calibrates it itself.
    a += ["-cpu", "max,-tsc", "-smp", "1,maxcpus=2", "-m", "%dM" % (cfg["mem"] >> 20),
          "-nodefaults", "-display", "none", "-vga", "none", "-no-reboot",
          "-boot", "d", "-cdrom", cfg["iso"],
          *pool_args(cfg), *disk_args(cfg), *net_args(cfg, n),
          # COM1 is the interactive console; the kernel copies all output to
          # COM2, a plain file: QEMU's logfile= can repeat a byte when a
          # console client comes and goes, and logs must be exact.
          "-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % _opt(sock),
          "-chardev", "file,id=log0,path=%s" % _opt(log),
          "-serial", "chardev:ser0", "-serial", "chardev:log0",
          "-qmp", "unix:%s,server=on,wait=off" % _opt(qmp),
          "-gdb", "tcp:127.0.0.1:%d" % (cfg["gdb_base"] + n)]
    if n in cfg["gdb_wait"]:
        a.append("-S")
    a += ["-fw_cfg", "name=opt/dmos/cmdline,string=%s" % _opt(cmdline(cfg, n)),
          "-name", "dmos-%s-node%d" % (cfg["cluster"], n)]
    return a


def _child_setup(parent):
    """Runs in the child before exec: own process group, die with the parent."""
    os.setpgid(0, 0)        # a Ctrl-C on the terminal goes to the supervisor only
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(126)
    if os.getppid() != parent:  # the supervisor died before prctl took hold
        os._exit(126)


def spawn(args, out=None):
    """Start one QEMU (or the ivshmem-server): stdin closed, stdout+stderr on a
    pipe the caller reads, or into the file out."""
    parent = os.getpid()
    return subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if out is None else out,
                            stderr=subprocess.STDOUT, close_fds=True,
                            preexec_fn=lambda: _child_setup(parent))


def start_time(pid):
    """Start time of pid in clock ticks since boot (field 22), or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (OSError, ValueError):
        return None
    fields = s[s.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None             # a zombie has exited already
    return int(fields[19])


def alive(pid, started=None):
    """Is pid running, and (if started is given) the same process as before?"""
    if not pid:
        return False
    t = start_time(pid)
    return t is not None and (started is None or t == started)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_node(pid, started, cluster, n):
    """Is pid still node n of cluster (not a recycled pid)?"""
    return alive(pid, started) and ("-name dmos-%s-node%d " % (cluster, n)
                                     in proc_cmdline(pid))


def holders(path, exclude=()):
    """Pids (other than exclude) that have path open or mapped."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    key = (st.st_dev, st.st_ino)
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude or int(d) == os.getpid():
            continue
        if _holds("/proc/" + d, path, key):
            found.append(int(d))
    return found


def _holds(proc, path, key):
    try:
        for fd in os.listdir(proc + "/fd"):
            try:
                s = os.stat("%s/fd/%s" % (proc, fd))
            except OSError:
                continue
            if (s.st_dev, s.st_ino) == key:
                return True
        with open(proc + "/maps") as f:
            return any(line.rstrip("\n").endswith(" " + path) for line in f)
    except OSError:         # gone, or not ours to look at
        return False


class QMP:
    """One QMP connection to a node, capabilities negotiated; command() runs a
    command on it. Connecting first lets a caller find a node it cannot reach
    before it changes anything (the fault injector)."""

    def __init__(self, path, timeout=5.0):
        self.sock, self.f = socket.socket(socket.AF_UNIX), None
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
            self.f = self.sock.makefile("rw")
            self._reply()                               # the greeting
            self.command("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def _reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise params.DmosError("qmp: QEMU closed the connection")
            reply = json.loads(line)
            if "event" not in reply:
                return reply

    def command(self, command, arguments=None):
        """Run command; returns its 'return' value (DmosError if QEMU says no)."""
        self.f.write(json.dumps(dict({"execute": command},
                                     **({"arguments": arguments} if arguments else {})))
                     + "\n")
        self.f.flush()
        reply = self._reply()
        if "error" in reply:
            raise params.DmosError("qmp %s: %s" % (command, reply["error"].get("desc")))
        return reply.get("return")

    def close(self):
        try:
            if self.f:
                self.f.close()
        except OSError:                 # a write buffer it can no longer flush
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def qmp(path, command, arguments=None, timeout=5.0):
    """Run one QMP command on a node's QMP socket; returns its 'return' value."""
    with QMP(path, timeout) as q:
        return q.command(command, arguments)
