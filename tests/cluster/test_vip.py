"""The cluster IP (docs/net.md, "The cluster IP"): three nodes serve
VIP:7 (the kernel's echo, registered on every node as a listener of pid 0)
through the launcher's forward of 127.0.0.1 to 10.0.2.100:7.

New TCP connections are claimed in the pool, round robin over the live
listeners: 300 connections from ordinary host clients (ephemeral source
ports, no bind) are all served, a third each (the nodes' echo counters),
with exactly one claim and one turn each. A node's QEMU killed or its NIC
taken down (QMP set_link): the rotation skips it within 1 s of its death
being declared (or of its withdrawal), connections after that go only to
the live listeners (served at once, shared equally), its entries and
buckets are gone from the pool, and when the link comes back the node
takes its turns (and its buckets) back. Garbage frames at the VIP
(truncated headers, random bytes, bad ARP) crash no node.
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
    t["claims"]["live_by_node"] = {int(n): k for n, k in t["claims"]["live_by_node"].items()}
    return t


def tcp7(t):
    return next(s for s in t["services"] if (s["proto"], s["port"]) == ("tcp", 7))


def accepted(c, n):
    mark = c.mark(n)
    m = c.command(n, "net", r"net: echo on tcp port 7: (\d+) accepted")
    c.wait_line(n, r"net: vip tcp 7: buckets", since=mark)
    return int(m.group(1))


def echo(port, data=b"ping\n", timeout=5.0):
    """One connection from an ephemeral host port to the forward: True if data came back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
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


def shares(c, nodes, port, n, timeout=0.9):
    """n connections, each served at once (within timeout: before a client's first
    SYN retransmission, 1 s), and how many each of nodes accepted."""
    before = {k: accepted(c, k) for k in nodes}
    served = [echo(port, timeout=timeout) for _ in range(n)]
    assert served.count(False) == 0, served
    return {k: accepted(c, k) - before[k] for k in nodes}


def until_rotation(port, since, limit=10.0):
    """Runs of three connections with a short timeout each until all three are
    served: the rotation no longer holds a node that cannot answer. Return the
    seconds from since (monotonic)."""
    while time.monotonic() - since < limit:
        if all(echo(port, timeout=0.3) for _ in range(3)):
            return time.monotonic() - since
    pytest.fail("three connections in a row were not served within %g s" % limit)


@pytest.mark.boot
def test_three_nodes_serve_300_vip_connections_a_third_each(launch):
    c = boot(launch)
    t = net(c)
    assert t["vip"] == "10.0.2.100" and t["mac"] == "02:44:4d:00:02:64"
    assert t["members"] == {0: 1, 1: 1, 2: 1} and t["leader"] == 0
    s = tcp7(t)
    assert sorted((x["node"], x["pid"]) for x in t["listeners"]
                  if x["port"] == 7) == [(0, 0), (1, 0), (2, 0)]
    assert sum(s["buckets"].values()) == BUCKETS and s["unowned"] == 0
    assert sorted(s["buckets"].values()) == [340, 340, 341]
    assert s["mask"] == 0b111
    text = c.dmos("net").stdout
    assert re.search(r"tcp 7: 3 listeners on 3 nodes, buckets node 0 34[01], node 1 34[01], "
                     r"node 2 34[01], \d+ turns", text), text
    assert "tcp 7 at 127.0.0.1:%d" % vip_port(c) in text

    port = vip_port(c)
    before = [accepted(c, n) for n in range(3)]
    t0 = time.monotonic()
    failed = [i for i in range(300) if not echo(port)]
    took = time.monotonic() - t0
    got = [accepted(c, n) - b for n, b in zip(range(3), before)]   # counters in the logs too
    t1 = net(c)
    cl0, cl1 = t["claims"], t1["claims"]
    print("vip: 300 connections in %.1f s, served %s; claims %s" % (took, got, cl1))
    assert failed == [], "%d of 300 not answered (first %s); frames as the nodes saw " \
        "them are in their logs" % (len(failed), failed[:10])     # all answered
    assert sum(got) == 300
    for n in range(3):                              # each node a fair share
        assert 90 <= got[n] <= 110, got
    # one claim and one turn per connection, none fell back to the buckets
    assert cl1["taken"] - cl0["taken"] == 300, (cl0, cl1)
    assert tcp7(t1)["turns"] - s["turns"] == 300
    assert cl1["full"] == 0 and cl1["retaken"] == 0
    assert 0 < cl1["live"] <= 300 and set(cl1["live_by_node"]) <= {0, 1, 2}
    m = c.mark(0)
    c.command(0, "net", r"net: vip claims: (\d+) live of 8192, (\d+) taken")
    assert re.search(r"net: vip claims: \d+ live of 8192, \d+ taken \(0 void ones again, 0 in "
                     r"the way of a full set's oldest\), \d+ given up busy; this node claimed \d+",
                     c.log(0)[m:])
    for n in range(3):
        assert "panic" not in c.log(n).lower()


@pytest.mark.boot
def test_after_a_kill_new_connections_go_only_to_the_live_listeners(launch):
    c = boot(launch, node_args={"all": "dead_after=600"})
    own, port = owners(c), vip_port(c)
    assert echo(port)
    while tcp7(net(c))["turns"] % 3 != 1:           # node 1's turn is next
        assert echo(port)
    marks = [c.mark(n) for n in range(3)]
    c.kill(1)
    killed = time.monotonic()
    # until it is declared dead, its turn goes nowhere
    assert echo(port, timeout=0.3) is False
    seen = c.watch({n: (n, r"node %d: node 1 (declared dead|is dead)" % n, marks[n])
                    for n in (0, 2)}, timeout=10)
    assert seen, "nobody declared node 1 dead"
    declared = c.t0 + min(t for _, t in seen.values())      # when it was seen, monotonic
    took = until_rotation(port, declared)
    print("vip failover after a kill: the rotation skips it %.3f s after the death was seen "
          "declared (%.3f s after the kill)" % (took, declared - killed + took))
    assert took < 1.0
    # every connection now goes to a survivor at once, shared equally
    got = shares(c, (0, 2), port, 30)
    print("vip after a kill: 30 connections served by %s" % got)
    assert sum(got.values()) == 30 and all(14 <= k <= 16 for k in got.values()), got
    # the dead node's entry and buckets are gone; its buckets went to the others
    t = net(c)
    assert sorted(t["members"]) == [0, 2]
    assert sorted(x["node"] for x in t["listeners"] if x["port"] == 7) == [0, 2]
    s = tcp7(t)
    assert sorted(s["buckets"]) == [0, 2] and s["mask"] == 0b101
    assert sum(s["buckets"].values()) == BUCKETS
    assert 1 not in t["claims"]["live_by_node"]     # its claims are void
    after = owners(c)
    moved = sum(1 for a, b in zip(own, after) if a != 1 and a != b)
    assert moved < 0.05 * BUCKETS, moved    # the survivors keep theirs, mostly
    # one survivor did the cleanup (the other found it done) and said so
    said = [n for n in (0, 2) if re.search(r"node %d: vip: dropped 1 listeners of dead node 1; "
                                           r"its buckets moved to the others" % n,
                                           c.log(n)[marks[n]:])]
    assert len(said) == 1, said


@pytest.mark.boot
def test_a_node_whose_link_goes_down_withdraws_and_comes_back(launch):
    c = boot(launch)
    own, port = owners(c), vip_port(c)
    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=False)
    down = time.monotonic()
    m = c.wait_line(2, r"node 2: vip: link down: withdrawn from the bucket tables$",
                    timeout=5, since=mark)
    assert m
    took = until_rotation(port, down)
    print("vip failover after a link down: the rotation skips it %.3f s after set_link" % took)
    assert took < 1.0                       # the link is polled every 100 ms
    got = shares(c, (0, 1), port, 20)
    assert sum(got.values()) == 20 and all(9 <= k <= 11 for k in got.values()), got
    t = net(c)
    assert sorted(t["members"]) == [0, 1]
    s = tcp7(t)
    assert sorted(s["buckets"]) == [0, 1] and s["mask"] == 0b011
    assert sum(s["buckets"].values()) == BUCKETS
    assert [x["counts"] for x in t["listeners"] if x["node"] == 2] == [False]
    text = c.dmos("net").stdout
    assert "node 2 pid 0 epoch 1 (does not count: its node withdrew or restarted)" in text

    mark = c.mark(2)
    c.qmp(2, "set_link", name="net0", up=True)
    c.wait_line(2, r"node 2: vip: link up: back in the bucket tables$", timeout=5, since=mark)
    assert owners(c) == own                 # the very same buckets as before
    got = shares(c, (0, 1, 2), port, 30)    # and node 2 takes its turns again
    print("vip after the link came back: 30 connections served by %s" % got)
    assert sum(got.values()) == 30 and all(9 <= k <= 11 for k in got.values()), got


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
    served = [echo(port) for _ in range(10)]
    for n in range(3):                      # the counters in the logs before any assert
        mark = c.mark(n)
        c.command(n, "net", r"net: vip frames: (\d+) taken")
        now = int(re.search(r"(\d+) malformed", c.log(n)[mark:]).group(1))
        assert now - before[n] >= len(malformed), (n, before[n], now)
        assert "panic" not in c.log(n).lower()
    assert served.count(False) == 0, served
