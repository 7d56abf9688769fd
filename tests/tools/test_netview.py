"""The host's reader of the cluster IP's port table (tools/dmoslib/netview.py)
and `dmos net`, on synthetic pools laid out as a kernel formats them
(dmoslib.poolimage): a fresh table, listeners of live, withdrawn and
restarted nodes with their services' buckets, the claims of new
connections (live ones by node, void and expired ones not counted, the
counters), the bucket and claim set hashes the kernel uses, and damaged
tables refused with the kernel's reason (the poolcheck cases,
tests/unit/poolcheck_cases.txt, break each invariant).
"""

import json

from dmoslib import netview, poolimage
from dmoslib import pool as poolmod


def refused(dmos, path, want):
    """`dmos net` and `dmos pool` both call the pool at path damaged, for reason want."""
    r = dmos("net", "--pool-path", path)
    assert r.returncode == 1
    assert want in r.stderr and "DAMAGED: " + want in r.stdout, r
    r = dmos("pool", "--pool-path", path)
    assert r.returncode == 1 and want in r.stderr


def read(path):
    with poolmod.PoolFile(path) as f:
        return netview.read_ports(f, poolmod.parse(f))


def test_a_fresh_table(tmp_path, dmos):
    path = str(tmp_path / "fresh.pool")
    poolimage.create(path, nodes=3)
    t, probs = read(path)
    assert probs == []
    assert (t["vip"], t["mac"], t["buckets"]) == ("10.0.2.100", "02:44:4d:00:02:64", 1021)
    assert t["members"] == {} and t["leader"] is None
    assert t["listeners"] == [] and t["services"] == []
    assert (t["entries"], t["services_max"]) == (512, 64)
    r = dmos("net", "--pool-path", path)
    assert r.returncode == 0, r.stderr
    assert t["claims"] == {"sets": 1024, "ways": 8, "ttl_ms": 20000, "taken": 0, "retaken": 0,
                           "full": 0, "busy": 0, "live": 0, "live_by_node": {}}
    assert r.stdout.splitlines() == [
        "vip 10.0.2.100, mac 02:44:4d:00:02:64: members none, leader nobody (answers ARP "
        "and ping); 1021 buckets a port",
        "claims of new tcp connections: 0 live of 8192 (20 s each); 0 taken (0 void ones "
        "again, 0 in a full set's oldest way), 0 given up busy",
        "no port of the vip is listened on"]


def test_listeners_members_and_buckets(tmp_path, dmos):
    path = str(tmp_path / "ports.pool")
    img = poolimage.create(path, nodes=3)
    img.port_member(0, 1)
    img.port_member(2, 4)                     # node 1 withdrew (link down): member 0
    img.port_listener(0, 6, 7, 0, 0, 1)
    img.port_listener(1, 6, 7, 1, 0, 1)
    img.port_listener(5, 6, 7, 2, 0, 4)
    img.port_listener(6, 17, 53, 2, 2000001, 3)  # an earlier life of node 2: does not count
    owners = [0 if b % 2 else 2 for b in range(1021)]
    img.port_service(3, 6, 7, owners, builds=5)
    img.port_service(4, 17, 53, [netview.NONE] * 1021)
    t, probs = read(path)
    assert probs == []
    assert t["members"] == {0: 1, 2: 4} and t["leader"] == 0
    assert [(x["entry"], x["proto"], x["port"], x["node"], x["pid"], x["epoch"], x["counts"])
            for x in t["listeners"]] == [
        (0, "tcp", 7, 0, 0, 1, True), (1, "tcp", 7, 1, 0, 1, False),
        (5, "tcp", 7, 2, 0, 4, True), (6, "udp", 53, 2, 2000001, 3, False)]
    tcp, udp = t["services"]
    assert (tcp["proto"], tcp["port"], tcp["nodes"], tcp["builds"]) == ("tcp", 7, 2, 5)
    assert tcp["buckets"] == {0: 510, 2: 511} and tcp["unowned"] == 0
    assert udp["buckets"] == {} and udp["unowned"] == 1021
    with poolmod.PoolFile(path) as f:
        p = poolmod.parse(f)
        assert netview.owners(f, p, "tcp", 7) == owners
        assert netview.owners(f, p, "tcp", 80) is None
    r = dmos("net", "--pool-path", path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("vip 10.0.2.100, mac 02:44:4d:00:02:64: members 0 (epoch 1), "
                             "2 (epoch 4), leader node 0")
    assert "tcp 7: 3 listeners on 2 nodes, buckets node 0 510, node 2 511, 0 turns" in out
    assert "  node 1 pid 0 epoch 1 (does not count: its node withdrew or restarted)" in out
    assert "udp 53: 1 listener on 0 nodes, buckets nobody's" in out
    j = json.loads(dmos("net", "--pool-path", path, "--json").stdout)
    assert j["ports"]["services"][0]["buckets"] == {"0": 510, "2": 511}
    assert j["problems"] == []


NOW = 1_700_000_000 * 10**9               # the cluster clock: ns since 1970
CLIENT = 10 << 24 | 2 << 8 | 2             # 10.0.2.2


def tup(cport, port):
    return CLIENT << 32 | cport << 16 | port


def test_claims_live_by_node_and_the_counters(tmp_path, dmos):
    path = str(tmp_path / "claims.pool")
    img = poolimage.create(path, nodes=3)
    for n in range(3):
        img.node(n, epoch=n + 1)
        img.port_member(n, n + 1)
        img.port_listener(n, 6, 80, n, 0, n + 1)
    img.node(3, state="dead", epoch=1)
    img.port_member(3, 1)                     # dead, not buried yet: void
    img.port_listener(3, 6, 80, 3, 0, 1)
    img.port_service(0, 6, 80, [b % 4 for b in range(1021)], turns=9)
    img.port_claims(taken=9, retaken=2, full=1, busy=3)
    live = [(0, 0, 1, 0), (5, 3, 2, 1), (5, 4, 1, 0), (900, 0, 3, 2)]   # set, way, owner epoch, node
    for i, (s, w, e, n) in enumerate(live):
        img.port_claim(s, w, tup(40000 + i, 80), n, e, NOW - i * 10**9, ticket=i)
    img.port_claim(6, 0, tup(41000, 80), 1, 2, NOW - 20 * 10**9)      # expired just now
    img.port_claim(6, 1, tup(41001, 80), 1, 2, NOW + 21 * 10**9)      # from a clock far ahead
    img.port_claim(6, 2, tup(41002, 80), 2, 1, NOW)                   # an earlier life of node 2
    img.port_claim(6, 3, tup(41003, 80), 3, 1, NOW)                   # a dead node's
    img.port_claim(6, 4, tup(41004, 81), 0, 1, NOW)                   # nobody listens on 81
    img.port_claim(6, 5, tup(41005, 80), 0, 1, NOW, state=0)          # free
    img.port_claim_lease(7, (1 + 1) << 48 | 2)                        # node 1 looks a set up
    with poolmod.PoolFile(path) as f:
        rep = netview.net_report(f, poolmod.parse(f), now_ns=NOW)
    assert rep["problems"] == []
    c = rep["ports"]["claims"]
    assert (c["live"], c["live_by_node"]) == (4, {0: 2, 1: 1, 2: 1})
    assert (c["taken"], c["retaken"], c["full"], c["busy"]) == (9, 2, 1, 3)
    assert rep["ports"]["services"][0]["turns"] == 9
    assert rep["ports"]["services"][0]["mask"] == 0b1111
    text = netview.describe(rep)
    assert ("claims of new tcp connections: 4 live of 8192 (20 s each), node 0 2, node 1 1, "
            "node 2 1; 9 taken (2 void ones again, 1 in a full set's oldest way), 3 given up busy"
            in text), text
    assert "tcp 80: 4 listeners on 4 nodes, buckets node 0 256, node 1 255, node 2 255, " \
        "node 3 255, 9 turns" in text
    # long after, nothing is live
    with poolmod.PoolFile(path) as f:
        rep = netview.net_report(f, poolmod.parse(f), now_ns=NOW + 60 * 10**9)
    assert rep["ports"]["claims"]["live"] == 0
    r = dmos("net", "--pool-path", path, "--json")
    assert r.returncode == 0, r.stderr


def test_a_damaged_claim_is_refused_with_the_kernel_s_reason(tmp_path, dmos):
    path = str(tmp_path / "badclaim.pool")
    img = poolimage.create(path, nodes=3)
    img.port_claim(2, 3, tup(40000, 0), 1, 1, NOW)          # port 0: no VIP port
    img.port_claim_lease(9, 70 << 48 | 1)                    # node 69 holds a lease
    refused(dmos, path, "port table: 1 claims and 1 claim set leases are none the kernel "
            "writes (first claim 19: state 1, owner 1, epoch 1, key 0x0a0002029c400000)")


def test_the_claim_set_hash_is_the_kernel_s():
    # porttab_cset_of() of net/porttab.c, compiled on the host, gave these
    assert [netview.claim_set("10.0.2.2", p, 7) for p in (40000, 40001)] == [961, 807]
    assert netview.claim_set("10.0.2.2", 65535, 80) == 849
    assert netview.claim_set("192.168.0.1", 80, 8080) == 981
    # 4000 connections of one client spread over the sets as random draws would:
    # 1024 * (1 - e^(-4000/1024)) = 1004 distinct ones expected
    spread = {netview.claim_set("10.0.2.2", p, 80) for p in range(40000, 44000)}
    assert 990 <= len(spread) <= 1018


def test_the_bucket_hash_is_the_kernel_s():
    # porttab_bucket() of net/porttab.h, compiled on the host, gave these
    assert [netview.bucket("10.0.2.2", p) for p in (7, 40000, 65535)] == [994, 227, 587]
    assert netview.bucket("192.168.0.1", 80) == 691
    # 3000 ports of one client fall into 1021 buckets as random draws would:
    # 1021 * (1 - e^(-3000/1021)) = 966 distinct ones expected
    spread = {netview.bucket("10.0.2.2", p) for p in range(40000, 43000)}
    assert 940 <= len(spread) <= 990


def test_a_damaged_table_is_refused_with_the_kernel_s_reason(tmp_path, dmos):
    path = str(tmp_path / "bad.pool")
    img = poolimage.create(path, nodes=3)
    img.port_listener(2, 6, 7, 70, 0, 1)        # node 70: past max_nodes
    refused(dmos, path, "port table: 1 entries and 0 bucket owners are none the kernel "
            "writes (first entry 2: state 1, proto 6, port 7, node 70, epoch 1)")
