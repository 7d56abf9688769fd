"""The network benchmarks (bench/run.py runs them; harness.py is what they
are written with). Every client is a real host program or a plain host
socket, reaching the nodes through the launcher's forwards on 127.0.0.1
(slirp in the hub QEMU; docs/net.md): the cluster IP's port 80, and each
node's own port 80 for the direct baseline.

  net-vip       wrk against httpd on node 0, through the cluster IP and
                directly at node 0's own address, alternating in one cluster
  net-scale     wrk through the cluster IP against a CPU-bound handler
                (/work) with httpd on 1, then 2, then 3 nodes
  net-failover  new connections to the cluster IP while node 1's QEMU is
                killed (dead_after 300 ms): until every new one succeeds
  net-bulk      64 MiB from a program on node 0 to one on node 1 over TCP
                (nc), and the same 64 MiB through a shared segment
                (ubench handoff)
"""

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import fsbench
from harness import (MiB, Cluster, finish, fmt, parsed, program, section, start, value,
                     verdict_line)

WWW_FILE = 1024                     # /www/index.html: a 1 KiB page
WRK_SECONDS = 5                     # one wrk run
WRK_CONNS = 8                       # its connections (one thread: 2 host cores)
VIP_RUNS = 3                        # net-vip: wrk runs of each kind, alternating
WORK_N = 2000000                    # net-scale: /work?n=N, tens of ms on a TCG node
SCALE_CONNS = 12                    # net-scale: wrk connections, spread over the servers
DEAD_AFTER_MS = 300                 # net-failover: the cluster's dead_after
PROBES = 1                          # net-failover: host threads making new connections (one:
                                    # slirp's listening socket has a backlog of 1, and a second
                                    # connect at once waits for the host's SYN retransmission)
PROBE_TIMEOUT = 0.25                # s a probe waits for its answer
BULK_MIB = 64                       # net-bulk: bytes handed over
BULK_PORT = 5001
LISTENING = r"httpd: node %d listening on port 80"
WRK_RATE = r"Requests/sec:\s+([\d.]+)"
WRK_P = r"(?m)^\s+%d%%\s+([\d.]+)(us|ms|s)\s*$"
NC_RECV = r"nc: received (\d+) bytes sum ([0-9a-f]+) in (\d+) ms"
HANDOFF = r"ubench: handoff ([\d.]+) ms"
MEMCPYS = r"ubench: handoff_memcpys ([\d.]+) ms"
NET_NEEDS = [("userland/bin/httpd.c", "/work"), ("net/vip.c", "vip")]
NEEDS = {"net-vip": NET_NEEDS, "net-scale": NET_NEEDS, "net-failover": NET_NEEDS,
         "net-bulk": [("userland/bin/nc.c", "received")]}


@contextlib.contextmanager
def www_disk():
    """A fresh dmosfs image with /www/index.html (WWW_FILE bytes); removed when done."""
    os.makedirs(fsbench.FS_HOME, exist_ok=True)
    home = tempfile.mkdtemp(prefix="www-%d-" % os.getpid(), dir=fsbench.FS_HOME)
    try:
        img, page = os.path.join(home, "disk.img"), os.path.join(home, "index.html")
        with open(page, "w") as f:
            f.write(("dmos " * (WWW_FILE // 5 + 1))[:WWW_FILE])
        fsbench.dmosfs("mkfs", img, "--size", "64M", "--label", "www")
        fsbench.dmosfs("mkdir", img, "/www")
        fsbench.dmosfs("put", img, page, "/www/index.html")
        yield img
    finally:
        shutil.rmtree(home, ignore_errors=True)


def host_port(c, proto, port):
    """The host port on 127.0.0.1 the launcher forwards to the cluster IP's proto/port."""
    for p, guest, host in c.cfg()["net"]["vip_ports"]:
        if (p, guest) == (proto, port):
            return host
    raise SystemExit("bench: the launcher forwards no %s %d of the cluster IP" % (proto, port))


def node_http(c, n):
    """The host port forwarded to node n's own port 80."""
    return c.cfg()["net"]["http_ports"][n]


def httpd(c, nodes):
    """Start httpd on each of nodes; return once each listens (its log mark)."""
    marks = {n: start(c, n, "httpd") for n in nodes}
    for n in nodes:
        c.wait_line(n, LISTENING % n, timeout=60, since=marks[n])
    return marks


def wrk(port, path, conns=WRK_CONNS, seconds=WRK_SECONDS):
    """One wrk run (one thread, keep-alive): (requests/s, p99 in ms)."""
    r = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                        "--timeout", "5s", "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit("bench: wrk on 127.0.0.1:%d%s failed:\n%s" % (port, path, out))
    p99 = parsed(WRK_P % 99, out, "wrk 99th percentile")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return float(parsed(WRK_RATE, out, "wrk Requests/sec").group(1)), float(p99.group(1)) * scale


def net_vip_round(tree):
    """httpd on node 0 of three; wrk through the VIP and directly, alternating."""
    vip, direct = {"rate": [], "p99": []}, {"rate": [], "p99": []}
    with www_disk() as img, Cluster.bench(tree, "netvip", 3, disk=img) as c:
        httpd(c, [0])
        wrk(host_port(c, "tcp", 80), "/index.html", seconds=1)      # warm: the page cached
        for _ in range(VIP_RUNS):
            for into, port in ((vip, host_port(c, "tcp", 80)), (direct, node_http(c, 0))):
                rate, p99 = wrk(port, "/index.html")
                into["rate"].append(rate)
                into["p99"].append(p99)
    med = {k: statistics.median(v) for k, v in vip.items()}
    dmed = {k: statistics.median(v) for k, v in direct.items()}
    return [("direct, requests", dmed["rate"], "/s", "higher"),
            ("cluster IP, requests", med["rate"], "/s", "higher"),
            ("direct, p99", dmed["p99"], "ms", "lower"),
            ("cluster IP, p99", med["p99"], "ms", "lower"),
            ("cluster IP / direct", 100 * med["rate"] / dmed["rate"], "%", "higher")]


def net_scale_round(tree):
    """wrk through the VIP at /work with httpd on node 0, then 0-1, then 0-2."""
    rows, rates = [], {}
    with www_disk() as img, Cluster.bench(tree, "netscale", 3, disk=img) as c:
        port = host_port(c, "tcp", 80)
        for k in (1, 2, 3):
            httpd(c, [k - 1])
            time.sleep(0.5)                     # the buckets rebalance as a listener joins
            rates[k], p99 = wrk(port, "/work?n=%d" % WORK_N, conns=SCALE_CONNS)
            rows += [("%d server%s, requests" % (k, "s" if k > 1 else ""), rates[k], "/s",
                      "higher"), ("%d server%s, p99" % (k, "s" if k > 1 else ""), p99, "ms",
                                  "lower")]
    return rows + [("2 / 1 servers", rates[2] / rates[1], "x", "higher"),
                   ("3 / 1 servers", rates[3] / rates[1], "x", "higher")]


def probe(port, t0, results, stop):
    """New connections to port until stop: (start, seconds taken, ok) each,
    start and taken on time.monotonic() from t0."""
    while not stop.is_set():
        t = time.monotonic()
        ok = False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as s:
                s.settimeout(PROBE_TIMEOUT)
                s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
                ok = s.recv(12).startswith(b"HTTP/1.")
        except OSError:
            pass
        results.append((t - t0, time.monotonic() - t, ok))


def net_failover_round(tree):
    """Probes at the VIP; node 1's QEMU killed; until all new connections succeed."""
    with www_disk() as img, Cluster.bench(tree, "netfail", 3, disk=img,
                                          node_args={"all": "dead_after=%d" % DEAD_AFTER_MS}) as c:
        httpd(c, [0, 1, 2])
        port, results, stop = host_port(c, "tcp", 80), [], threading.Event()
        marks = [c.mark(n) for n in (0, 2)]
        t0 = time.monotonic()
        threads = [threading.Thread(target=probe, args=(port, t0, results, stop))
                   for _ in range(PROBES)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = [r for r in results if r[0] < 1.0]
        killed = time.monotonic() - t0
        os.kill(c.pids()[1], signal.SIGKILL)
        found = c.watch({n: (n, r"node %d: node 1 (declared dead|is dead)" % n, m)
                         for n, m in zip((0, 2), marks)}, timeout=30, poll=0.005)
        time.sleep(3.0)
        stop.set()
        for t in threads:
            t.join()
    if len(found) != 2:
        raise SystemExit("bench: failover: node 1 was not declared dead (see %s)" % c.run_dir)
    declared = min(f[1] for f in found.values()) + c.t0 - t0     # on the probes' clock
    if not all(ok for _, _, ok in before):
        raise SystemExit("bench: failover: probes failed before the kill")
    after = sorted(r for r in results if r[0] >= killed)
    failed = [s for s, _, ok in after if not ok]
    last = max(failed) if failed else killed
    first_ok = min((s + d for s, d, ok in after if ok and s > last), default=None)
    if first_ok is None:
        raise SystemExit("bench: failover: no new connection succeeded after the kill")
    return [("killed to all new connections succeed", 1000 * (first_ok - killed), "ms", "lower"),
            ("killed to declared dead", 1000 * (declared - killed), "ms", "lower"),
            ("declared dead to all succeed", 1000 * (first_ok - declared), "ms", "lower"),
            ("probes failed", len(failed), "connections", None),
            ("probes", len(after), "connections", None)]


def net_bulk_round(tree):
    """nc: 64 MiB node 0 -> node 1 over TCP; ubench handoff: 64 MiB through a segment."""
    with Cluster.bench(tree, "netbulk", 2) as c:
        line = "nc -l %d -n" % BULK_PORT
        mark = start(c, 1, line)
        time.sleep(1.0)
        program(c, 0, "nc 10.0.2.16 %d -n %d" % (BULK_PORT, BULK_MIB * MiB))
        got = parsed(NC_RECV, finish(c, 1, line, mark), "nc received")
        if int(got.group(1)) != BULK_MIB * MiB:
            raise SystemExit("bench: nc received %s bytes, not %d" % (got.group(1),
                                                                        BULK_MIB * MiB))
        out = program(c, 0, "ubench handoff %d 1" % BULK_MIB)
    seg = float(parsed(HANDOFF, out, "ubench handoff").group(1))
    two = float(parsed(MEMCPYS, out, "ubench handoff_memcpys").group(1))
    tcp = float(got.group(3))
    return [("over TCP", tcp, "ms", "lower"), ("TCP throughput", 1000 * BULK_MIB / tcp, "MiB/s",
                                                "higher"),
            ("through a shared segment", seg, "ms", "lower"),
            ("two memcpys of 64 MiB", two, "ms", None),
            ("TCP / segment", tcp / seg, "x", "higher"),
            ("segment / two memcpys", seg / two, "x", "lower")]


# --- the figures --------------------------------------------------------------

def fig_net_vip(res, rounds):
    v = lambda m: value(res, "net-vip", m)  # noqa: E731
    ratio = res.median("net-vip", "cluster IP / direct")
    return section(
        "The cluster IP against one node's own address",
        ["`wrk -t1 -c%d -d%ds --latency` for /index.html (1 KiB) from httpd on node 0 of"
         % (WRK_CONNS, WRK_SECONDS),
         "three, through the cluster IP's forward and through node 0's own, %d runs of each"
         % VIP_RUNS,
         "alternating in one cluster (medians). Both go through slirp in the hub QEMU;",
         "through the cluster IP every node receives every frame and nodes 1 and 2 drop them.",
         verdict_line(ratio >= 90, "the cluster IP keeps at least 90% of direct")],
        ["path", "requests/s", "p99"],
        [("node 0's own address", v("direct, requests"), v("direct, p99")),
         ("cluster IP", v("cluster IP, requests"), v("cluster IP, p99")),
         ("cluster IP / direct", v("cluster IP / direct"), "")])


def fig_net_scale(res, rounds):
    v = lambda m: value(res, "net-scale", m)  # noqa: E731
    two = res.median("net-scale", "2 / 1 servers")
    return section(
        "Servers behind the cluster IP",
        ["`wrk -t1 -c%d` through the cluster IP at /work?n=%d (a CPU-bound handler: %d"
         % (SCALE_CONNS, WORK_N, WORK_N),
         "rounds of xorshift64) with httpd on node 0, then also on 1, then also on 2; each",
         "node is a QEMU with one vCPU under TCG on a host with 2 cores, which the hub and",
         "wrk share, so a third server has no core of its own. %d round%s, a fresh cluster"
         % (rounds, "s" if rounds > 1 else ""),
         "each; the medians.",
         verdict_line(two >= 1.7, "2 servers at least 1.7x one")],
        ["servers", "requests/s", "p99", "vs one"],
        [("1", v("1 server, requests"), v("1 server, p99"), "1x"),
         ("2", v("2 servers, requests"), v("2 servers, p99"), v("2 / 1 servers")),
         ("3", v("3 servers, requests"), v("3 servers, p99"), v("3 / 1 servers"))])


def fig_net_failover(res, rounds):
    v = lambda m: value(res, "net-failover", m)  # noqa: E731
    worst = lambda m: "%.0f ms" % max(res.of("current", "net-failover", m))  # noqa: E731
    after = max(res.of("current", "net-failover", "declared dead to all succeed"))
    return section(
        "Failover of the cluster IP",
        ["httpd on three nodes, dead_after %d ms; %d host thread%s open%s new connections to"
         % (DEAD_AFTER_MS, PROBES, "s" if PROBES > 1 else "", "" if PROBES > 1 else "s"),
         "the cluster IP (GET /status, %.0f ms timeout) while node 1's QEMU is killed"
         % (1000 * PROBE_TIMEOUT),
         "(SIGKILL). About a third of the connections land in node 1's buckets and fail",
         "until the survivors take them over. Failed probes: %s of %s; %d round%s, a"
         % (fmt(res.median("net-failover", "probes failed"), ""),
            fmt(res.median("net-failover", "probes"), ""), rounds, "s" if rounds > 1 else ""),
         "fresh cluster each. A probe's timeout bounds how finely the end is seen.",
         verdict_line(after < 1000, "new connections succeed within 1 s of the death being "
                      "declared")],
        ["from", "to", "median", "worst"],
        [("QEMU killed", "declared dead", v("killed to declared dead"),
          worst("killed to declared dead")),
         ("declared dead", "every new connection succeeds", v("declared dead to all succeed"),
          worst("declared dead to all succeed")),
         ("QEMU killed", "every new connection succeeds",
          v("killed to all new connections succeed"),
          worst("killed to all new connections succeed"))])


def fig_net_bulk(res, rounds):
    v = lambda m: value(res, "net-bulk", m)  # noqa: E731
    ratio = res.median("net-bulk", "TCP / segment")
    seg = res.median("net-bulk", "segment / two memcpys")
    return section(
        "64 MiB between programs on two nodes",
        ["`nc` from node 0 to node 1 over TCP (lwIP on both, frames through the hub), and",
         "`ubench handoff %d 1` through a shared segment in the pool (fill on node 0, read and"
         % BULK_MIB,
         "check on node 1; against ubench's own two memcpys of the same bytes), in one cluster.",
         verdict_line(ratio >= 20, "the pool at least 20x faster than TCP") + " " +
         verdict_line(seg <= 1.5, "the handoff within 1.5x of two memcpys")],
        ["path", "time", "rate"],
        [("TCP", v("over TCP"), v("TCP throughput")),
         ("shared segment", v("through a shared segment"), ""),
         ("two memcpys of 64 MiB into pool memory", v("two memcpys of 64 MiB"), ""),
         ("TCP / segment", v("TCP / segment"), ""),
         ("segment / two memcpys", v("segment / two memcpys"), "")])


# (group, round, whether it runs --rounds times: the reactions, and the scaling, which
# one run on this shared machine cannot show)
ROUNDS = [("net-vip", net_vip_round, False), ("net-scale", net_scale_round, True),
          ("net-failover", net_failover_round, True), ("net-bulk", net_bulk_round, False)]
FIGURES = {"net-vip": fig_net_vip, "net-scale": fig_net_scale, "net-failover": fig_net_failover,
           "net-bulk": fig_net_bulk}
TITLES = {"net-vip": "The cluster IP against one node's own address",
          "net-scale": "Servers behind the cluster IP",
          "net-failover": "Failover of the cluster IP",
          "net-bulk": "64 MiB between programs on two nodes"}
