"""The cluster IP (docs/net.md, "The cluster IP"): three nodes serve
VIP:7 (the kernel's echo, registered on every node as a listener of pid 0)
through the launcher's forward of 127.0.0.1 to 10.0.2.100:7.

slirp keeps a host client's source port, so the test picks them: the
bucket of each connection (porttab_bucket of 10.0.2.2 and the port) and its
owner (the pool's bucket table, read by dmoslib.netview) say which node must
serve it, and the nodes' echo counters must say the same, connection for
connection. A node's QEMU killed or its NIC taken down (QMP set_link): the
connections of its buckets succeed again within 1 s of its death being
declared (or of its withdrawal), its entries and buckets are gone from the
pool, and when the link comes back the node takes its buckets back. Garbage
frames at the VIP (truncated headers, random bytes, bad ARP) crash no node.
"""

import json
import os
import random
import re
import socket
import struct
import time

import pytest

from dmoslib import netview
from dmoslib import pool as poolmod

BUCKETS = netview.PORTTAB_BUCKETS
SERVING = r"node %d: vip: 10\.0\.2\.100, mac 02:44:4d:00:02:64, serving$"
CLIENT = "10.0.2.2"                     # what the nodes see of a host client (slirp)


def boot(launch, **kw):
    c = launch(nodes=3, mem="64M", pool="64M", **kw)
    for n in range(3):
        c.wait_line(n, SERVING % n, timeout=30)
    return c


def vip_port(c, proto="tcp", port=7):
    return next(h for p, q, h in c.cfg()["net"]["vip_ports"] if p == proto and q == port)


def owners(c):
    with poolmod.PoolFile(c.pool_path) as f:
        return netview.owners(f, poolmod.parse(f), "tcp", 7)


def net(c):
    """`dmos net --json`'s port table, with the node ids JSON made strings numbers again."""
    r = c.dmos("net", "--json")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["ports"]
    t["members"] = {int(n): e for n, e in t["members"].items()}
    for s in t["services"]:
        s["buckets"] = {int(n): k for n, k in s["buckets"].items()}
    return t


def tcp7(t):
    return next(s for s in t["services"] if (s["proto"], s["port"]) == ("tcp", 7))


def accepted(c, n):
    mark = c.mark(n)
    m = c.command(n, "net", r"net: echo on tcp port 7: (\d+) accepted")
    c.wait_line(n, r"net: vip tcp 7: buckets", since=mark)
    return int(m.group(1))


class Ports:
    """Free host source ports, each used once (a closed one lingers in TIME-WAIT)."""

    def __init__(self):
        self.left = random.sample(range(32768, 60000), 27000)

    def take(self, want=None, own=None):
        """A port whose bucket's owner is in want (any port if want is None)."""
        while True:
            p = self.left.pop()
            if want is None or own[netview.bucket(CLIENT, p)] in want:
                return p


def echo_from(sport, port, data=b"ping\n", timeout=5.0):
    """One connection from 127.0.0.1:sport to the forward: True if data came back."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", sport))
        except OSError:
            return None                 # taken on the host: not the VIP's fault
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                b = s.recv(4096)
                if not b:
                    break
                got += b
            return got == data
        except OSError:
            return False


def until_served(ports, own, want, port, since, limit=10.0):
    """Try fresh connections into the buckets of nodes want, one at a time with a
    short timeout, until one is served; return the seconds from since (monotonic)."""
    while time.monotonic() - since < limit:
        if echo_from(ports.take(want, own), port, timeout=0.3):
            return time.monotonic() - since
    pytest.fail("no connection into the buckets of nodes %s was served within %g s"
                % (sorted(want), limit))


@pytest.mark.boot
def test_three_nodes_share_vip_connections_by_their_buckets(launch):
    c = boot(launch)
    t = net(c)
    assert t["vip"] == "10.0.2.100" and t["mac"] == "02:44:4d:00:02:64"
    assert t["members"] == {0: 1, 1: 1, 2: 1} and t["leader"] == 0
    s = tcp7(t)
    assert sorted((x["node"], x["pid"]) for x in t["listeners"]
                  if x["port"] == 7) == [(0, 0), (1, 0), (2, 0)]
    assert sum(s["buckets"].values()) == BUCKETS and s["unowned"] == 0
    assert sorted(s["buckets"].values()) == [340, 340, 341]
    text = c.dmos("net").stdout
    assert re.search(r"tcp 7: 3 listeners on 3 nodes, buckets node 0 34[01], node 1 34[01], "
                     r"node 2 34[01]", text), text
    assert "tcp 7 at 127.0.0.1:%d" % vip_port(c) in text

    own, ports, port = owners(c), Ports(), vip_port(c)
    before = [accepted(c, n) for n in range(3)]
    want = [0, 0, 0]
    served = 0
    for _ in range(300):
        sp = ports.take()
        ok = echo_from(sp, port)
        if ok is None:
            continue
        assert ok, "connection from port %d was not served" % sp
        served += 1
        want[own[netview.bucket(CLIENT, sp)]] += 1
    got = [accepted(c, n) - b for n, b in zip(range(3), before)]
    assert served >= 290
    assert got == want, (got, want)         # each connection on its bucket's owner
    for n in range(3):                      # and the buckets share them fairly
        assert abs(got[n] - served / 3) <= 0.1 * served, got
    for n in range(3):
        assert "panic" not in c.log(n).lower()


@pytest.mark.boot
def test_a_killed_node_s_buckets_are_served_again_within_a_second(launch):
    c = boot(launch, node_args={"all": "dead_after=600"})
    own, ports, port = owners(c), Ports(), vip_port(c)
    assert echo_from(ports.take({1}, own), port)
    marks = [c.mark(n) for n in range(3)]
    c.kill(1)
    killed = time.monotonic()
    # until it is declared dead, the SYNs of its buckets go nowhere
    assert echo_from(ports.take({1}, own), port, timeout=0.3) is False
    seen = c.watch({n: (n, r"node %d: node 1 (declared dead|is dead)" % n, marks[n])
                    for n in (0, 2)}, timeout=10)
    assert seen, "nobody declared node 1 dead"
    declared = c.t0 + min(t for _, t in seen.values())      # when it was seen, monotonic
    took = until_served(ports, own, {1}, port, declared)
    print("vip failover after a kill: %.3f s after the death was seen declared "
          "(%.3f s after the kill)" % (took, declared - killed + took))
    assert took < 1.0
    # the dead node's entry and buckets are gone; its buckets went to the others
    t = net(c)
    assert sorted(t["members"]) == [0, 2]
    assert sorted(x["node"] for x in t["listeners"] if x["port"] == 7) == [0, 2]
    s = tcp7(t)
    assert sorted(s["buckets"]) == [0, 2]
    assert sum(s["buckets"].values()) == BUCKETS
    after = owners(c)
    moved = sum(1 for a, b in zip(own, after) if a != 1 and a != b)
    assert moved < 0.05 * BUCKETS, moved    # the survivors keep theirs, mostly
    for _ in range(20):                     # and everything is served
        assert echo_from(ports.take(), port) in (True, None)
    # one survivor did the cleanup (the other found it done) and said so
    said = [n for n in (0, 2) if re.search(r"node %d: vip: dropped 1 listeners of dead node 1; "
                                           r"its buckets moved to the others" % n,
                                           c.log(n)[marks[n]:])]
    assert len(said) == 1, said


@pytest.mark.boot
def test_a_node_whose_link_goes_down_withdraws_and_comes_back(launch):
    c = boot(launch)
    own, ports, port = owners(c), Ports(), vip_port(c)
    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=False)
    down = time.monotonic()
    m = c.wait_line(2, r"node 2: vip: link down: withdrawn from the bucket tables$",
                    timeout=5, since=mark)
    assert m
    took = until_served(ports, own, {2}, port, down)
    print("vip failover after a link down: %.3f s after set_link" % took)
    assert took < 1.0                       # the link is polled every 100 ms
    t = net(c)
    assert sorted(t["members"]) == [0, 1]
    s = tcp7(t)
    assert sorted(s["buckets"]) == [0, 1]
    assert sum(s["buckets"].values()) == BUCKETS
    assert [x["counts"] for x in t["listeners"] if x["node"] == 2] == [False]
    text = c.dmos("net").stdout
    assert "node 2 pid 0 epoch 1 (does not count: its node withdrew or restarted)" in text

    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=True)
    c.wait_line(2, r"node 2: vip: link up: back in the bucket tables$", timeout=5, since=mark)
    assert owners(c) == own                 # the very same table as before
    before = accepted(c, 2)
    mine = [ports.take({2}, own) for _ in range(10)]
    assert [echo_from(p, port) for p in mine].count(False) == 0
    assert accepted(c, 2) - before >= 9


def _eth(dst, typ, payload):
    return dst + bytes.fromhex("5254000000fe") + struct.pack(">H", typ) + payload


def _ip(proto, body, tot=None, ihl=5, frag=0, dst=bytes([10, 0, 2, 100])):
    tot = 20 + len(body) if tot is None else tot
    return struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, frag, 64, proto, 0,
                       bytes([10, 0, 2, 2]), dst) + body


@pytest.mark.boot
def test_garbage_frames_at_the_vip_crash_no_node(launch):
    c = boot(launch)
    port = vip_port(c)
    cmac = bytes.fromhex("02444d000264")
    bcast = b"\xff" * 6
    vip = bytes([10, 0, 2, 100])
    rnd = random.Random(7)
    malformed = [
        _eth(cmac, 0x0800, _ip(6, b"", tot=12)),                    # shorter than its header
        _eth(cmac, 0x0800, _ip(6, b"\0" * 8, ihl=15)),              # header longer than it
        _eth(cmac, 0x0800, _ip(6, b"\0" * 10)),                     # a cut TCP header
        _eth(cmac, 0x0800, _ip(17, b"\0" * 4)),                     # a cut UDP header
        _eth(cmac, 0x0800, _ip(6, b"\0" * 20, tot=1400)),           # longer than the frame
        _eth(cmac, 0x0800, b"\x60" + bytes(15) + vip + bytes(20)),  # IPv6 in an IPv4 frame
    ]
    other = [
        _eth(bcast, 0x0806, bytes.fromhex("000108000604") + bytes(20)),       # cut ARP
        _eth(bcast, 0x0806, bytes.fromhex("0001080006050001") + bytes(14) + vip + bytes(4)),
        _eth(bcast, 0x0806, bytes.fromhex("0001080006040002") + cmac + vip + bytes(10)),
        _eth(cmac, 0x0800, _ip(17, b"\0" * 40, frag=0x2000)),       # a first fragment
        _eth(cmac, 0x0800, _ip(1, b"\x08\0" + bytes(30))),           # ping, bad checksum
    ]
    for _ in range(100):                    # IPv4 to the VIP, random beyond the addresses
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 80)))
        other.append(_eth(cmac, 0x0800, _ip(rnd.choice((1, 6, 17, 47)), body)))
        hdr = bytearray(_ip(6, body))
        for i in (0, 1, 2, 3, 6, 7, 9):
            hdr[i] = rnd.getrandbits(8)
        other.append(_eth(cmac, 0x0800, bytes(hdr)))
    before = {}
    for n in range(3):
        mark = c.mark(n)
        c.command(n, "net", r"net: vip frames: (\d+) taken")
        before[n] = int(re.search(r"(\d+) malformed", c.log(n)[mark:]).group(1))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for n in range(3):
            link = os.path.join(c.run_dir, "net%d.sock" % n)
            for f in malformed + other:
                s.sendto(f, link)
    time.sleep(0.5)
    ports = Ports()
    for _ in range(10):
        assert echo_from(ports.take(), port) in (True, None)
    for n in range(3):
        mark = c.mark(n)
        c.command(n, "net", r"net: vip frames: (\d+) taken")
        now = int(re.search(r"(\d+) malformed", c.log(n)[mark:]).group(1))
        assert now - before[n] >= len(malformed), (n, before[n], now)
        assert "panic" not in c.log(n).lower()
