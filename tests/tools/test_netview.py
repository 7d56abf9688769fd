"""The host's reader of the cluster IP's port table (tools/dmoslib/netview.py)
and `dmos net`, on synthetic pools laid out as a kernel formats them
(dmoslib.poolimage): a fresh table, listeners of live, withdrawn and
restarted nodes with their services' buckets, the bucket hash the kernel
uses, and a damaged table refused with the kernel's reason (the
poolcheck cases, tests/unit/poolcheck_cases.txt, break each invariant).
"""

import json

from dmoslib import netview, poolimage
from dmoslib import pool as poolmod


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
    assert r.stdout.splitlines() == [
        "vip 10.0.2.100, mac 02:44:4d:00:02:64: members none, leader nobody (answers ARP "
        "and ping); 1021 buckets a port", "no port of the vip is listened on"]


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
    assert "tcp 7: 3 listeners on 2 nodes, buckets node 0 510, node 2 511" in out
    assert "  node 1 pid 0 epoch 1 (does not count: its node withdrew or restarted)" in out
    assert "udp 53: 1 listener on 0 nodes, buckets nobody's" in out
    j = json.loads(dmos("net", "--pool-path", path, "--json").stdout)
    assert j["ports"]["services"][0]["buckets"] == {"0": 510, "2": 511}
    assert j["problems"] == []


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
    r = dmos("net", "--pool-path", path)
    assert r.returncode == 1
    want = ("port table: 1 entries and 0 bucket owners are none the kernel writes (first "
            "entry 2: state 1, proto 6, port 7, node 70, epoch 1)")
    assert want in r.stderr and "DAMAGED: " + want in r.stdout
    r = dmos("pool", "--pool-path", path)
    assert r.returncode == 1 and want in r.stderr
