"""Limits, defaults and input checks of the dmos host tools.

Every tunable of the launcher sits here, one line each, like xv6's param.h.
The check_* functions turn what the user typed into a value, or raise
UsageError with one sentence saying what is wrong and what is allowed. They
only read (does the ISO exist?); they never create or change anything.
"""

import os
import re
import zlib

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_ROOT = os.path.join(REPO, "build", "run")      # one run dir per cluster
DEFAULT_ISO = os.path.join(REPO, "build", "dmos.iso")
DMOSFS = os.path.join(REPO, "build", "tools", "dmosfs")   # mkfs, fsck, ... (make builds it)
PROGRAMS_DIR = os.path.join(REPO, "build", "userland", "initrd")  # what up installs in /bin
DISK_JOURNALS_MIN = 8          # journals mkfs gives a new disk: one per node, at least this many
GDBINIT = os.path.join(REPO, ".gdbinit")           # loads build/kernel.elf
POOL_DIR = "/dev/shm"                              # default home of pool files
IVSHMEM_SERVER = os.path.join(REPO, "tools", "ivshmem-server")  # doorbell server

NODES_DEFAULT, NODES_MIN, NODES_MAX = 3, 1, 64     # node ids are 0..nodes-1
MEM_DEFAULT, MEM_MIN, MEM_MAX = "128M", 32 * MiB, 16 * GiB  # local DRAM per node
POOL_DEFAULT, POOL_MIN, POOL_MAX = "256M", 16 * MiB, 64 * GiB  # power of two
DISK_DEFAULT, DISK_MIN, DISK_MAX = "256M", 1 * MiB, 1 * TiB  # the shared disk
DISK_IMAGE = "disk.img"        # the image `up --disk` creates in the run dir
SECTOR = 512                   # bytes of a disk sector
CLUSTER_DEFAULT = "dmos"
CLUSTER_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")
TIMEOUT_DEFAULT = 60           # seconds `up --detach` waits for every node
JOIN_RE = re.compile(r"cluster up")  # a node's console line once it joined
GDB_BASE = 20000               # gdb ports: GDB_BASE + gdb_range() * GDB_SPAN
GDB_USERS = 700                # ranges to choose from
GDB_SPAN = 64                  # ports per range: one per possible node
STOP_GRACE = 3.0               # seconds between SIGTERM and SIGKILL of a QEMU
DOWN_WAIT = 20.0               # seconds `down` waits for the supervisor
DETACH_KEY = 0x1D              # Ctrl-] leaves `dmos console`
RESERVED_ARGS = ("node", "nodes", "cluster")  # the launcher sets these itself
DOORBELL_VECTORS = 1           # MSI-X vectors per node with ivshmem-doorbell
SERVER_WAIT = 10.0             # seconds the supervisor waits for ivshmem-server
SOCKET_PATH_MAX = 107          # bytes of a unix socket path (sun_path - NUL)


class DmosError(Exception):
    """An error the CLI reports as one `dmos: ...` line; code is the exit status."""
    code = 1


class UsageError(DmosError):
    """Bad input: exit 2, and nothing was created or changed."""
    code = 2


def qemu_binary():
    """The QEMU to run: $DMOS_QEMU if set, else qemu-system-x86_64."""
    return os.environ.get("DMOS_QEMU") or "qemu-system-x86_64"


def ivshmem_server():
    """The doorbell server to run: $DMOS_IVSHMEM_SERVER if set (a Python script),
    else tools/ivshmem-server."""
    return os.environ.get("DMOS_IVSHMEM_SERVER") or IVSHMEM_SERVER


def pool_path_for(cluster):
    """Default pool file of a cluster."""
    return os.path.join(POOL_DIR, "dmos-%s.pool" % cluster)


def gdb_range():
    """This user's and this checkout's first choice of gdb port range. A
    cluster skips the ports of the other clusters of its checkout (they are
    in build/run); two checkouts (or users) starting clusters at once cannot
    see each other's, so they start from different ranges."""
    return (os.getuid() * 31 + zlib.crc32(REPO.encode())) % GDB_USERS


def run_dir_for(cluster):
    return os.path.join(RUN_ROOT, cluster)


def fmt_size(n):
    """Bytes as the shortest exact size: 64M, 1G, 1536K; else plain bytes."""
    for unit, scale in (("T", TiB), ("G", GiB), ("M", MiB), ("K", KiB)):
        if n and n % scale == 0:
            return "%d%s" % (n // scale, unit)
    return "%d bytes" % n


def parse_size(text, opt):
    """'64M' -> 67108864. Units K, M, G, T (powers of 1024); a unit is required."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT])(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        hint = " (a unit is required: %sM?)" % text.strip() if text.strip().isdigit() else ""
        raise UsageError("%s %r is not a size%s; write it like 512K, 64M or 1G"
                         % (opt, text, hint))
    scale = {"K": KiB, "M": MiB, "G": GiB, "T": TiB}[m.group(2).upper()]
    return int(m.group(1)) * scale


def check_nodes(n):
    if not NODES_MIN <= n <= NODES_MAX:
        raise UsageError("--nodes %d is out of range; a cluster has %d to %d nodes"
                         % (n, NODES_MIN, NODES_MAX))
    return n


def check_mem(text):
    size = parse_size(text, "--mem")
    if not MEM_MIN <= size <= MEM_MAX:
        raise UsageError("--mem %s is out of range; each node's memory is %s to %s"
                         % (text, fmt_size(MEM_MIN), fmt_size(MEM_MAX)))
    if size % MiB:
        raise UsageError("--mem %s is not a whole number of MiB; give e.g. 128M" % text)
    return size


def check_pool(text):
    size = parse_size(text, "--pool")
    if not POOL_MIN <= size <= POOL_MAX:
        raise UsageError("--pool %s is out of range; the pool is a power of two "
                         "from %s to %s" % (text, fmt_size(POOL_MIN), fmt_size(POOL_MAX)))
    if size & (size - 1):
        raise UsageError("--pool %s is not a power of two; use e.g. %s or %s"
                         % (text, fmt_size(1 << (size.bit_length() - 1)),
                            fmt_size(1 << size.bit_length())))
    return size


def check_disk(text):
    size = parse_size(text, "--disk")
    if not DISK_MIN <= size <= DISK_MAX:
        raise UsageError("--disk %s is out of range; the shared disk is %s to %s"
                         % (text, fmt_size(DISK_MIN), fmt_size(DISK_MAX)))
    if size % (4 * KiB):
        raise UsageError("--disk %s is not a whole number of 4 KiB pages; give e.g. %s"
                         % (text, fmt_size(size - size % (4 * KiB) or 4 * KiB)))
    return size


def check_name(name):
    if not CLUSTER_RE.fullmatch(name):
        raise UsageError("cluster name %r is not allowed; use 1 to 31 of a-z, 0-9 "
                         "and '-', starting with a letter or digit" % name)
    return name


def check_iso(path, given):
    if not os.path.isfile(path):
        if given:
            raise UsageError("ISO %s not found; give --iso the path of a bootable "
                             "dmos ISO" % path)
        raise UsageError("ISO %s not found; run `make` at the repo root first, or "
                         "give --iso PATH" % os.path.relpath(path))
    if not os.access(path, os.R_OK):
        raise UsageError("ISO %s is not readable" % path)
    return os.path.abspath(path)


def check_node(n, nodes, what="node"):
    if not 0 <= n < nodes:
        raise UsageError("%s %d does not exist; this cluster's nodes are 0..%d"
                         % (what, n, nodes - 1))
    return n


def parse_node_args(specs, nodes):
    """['1:fault=pf', 'all:debug'] -> {0: 'debug', 1: 'fault=pf debug', ...}."""
    out = {}
    for spec in specs:
        who, sep, args = spec.partition(":")
        bad = "--node-arg %r" % spec
        if not sep or not args.strip():
            raise UsageError("%s: write it as N:ARGS or all:ARGS, e.g. 1:fault=pf" % bad)
        if who == "all":
            targets = range(nodes)
        elif who.isdigit():
            n = int(who)
            if n >= nodes:
                raise UsageError("%s: node %d does not exist; nodes are 0..%d"
                                 % (bad, n, nodes - 1))
            targets = [n]
        else:
            raise UsageError("%s: %r is not a node number; write N:ARGS or all:ARGS"
                             % (bad, who))
        if any(not (32 <= ord(c) < 127) or c == '"' for c in args):
            raise UsageError("%s: node arguments are printable ASCII without "
                             "quotes or control characters" % bad)
        for word in args.split():
            if word.partition("=")[0] in RESERVED_ARGS:
                raise UsageError("%s: %r is set by the launcher; node arguments may "
                                 "not set %s" % (bad, word, ", ".join(
                                     a + "=" for a in RESERVED_ARGS)))
        for n in targets:
            out[n] = (out.get(n, "") + " " + " ".join(args.split())).strip()
    return out


def check_port(port, nodes, option="--gdb-base"):
    if not 1024 <= port <= 65535 - nodes + 1:
        raise UsageError("%s %d is out of range; ports 1024..%d leave room "
                         "for %d nodes" % (option, port, 65536 - nodes, nodes))
    return port


def check_timeout(sec):
    if not sec > 0:
        raise UsageError("--timeout %g is not allowed; give a number of seconds > 0"
                         % sec)
    return sec
