"""The network on booted clusters (docs/net.md): every node's virtio-net
card on one segment behind the launcher's hub QEMU, lwIP with a static
address 10.0.2.(15+N), and the kernel's TCP echo (port 7) reached from
the host through slirp's port forward of 127.0.0.1:net_base+N. A host
client's bytes come back unchanged, large streams included; the monitor's
`net` counts frames both ways; garbage datagrams sent at a node's link
(runts, oversized frames, frames of random bytes) are dropped and
counted and the node keeps serving; the hub and its sockets are gone
after down.
"""

import os
import re
import socket
import threading

import pytest

NET = r"net: virtio-net 52:54:00:00:00:%02x, 10\.0\.2\.%d/24 \(static\), gateway 10\.0\.2\.2, " \
      r"link up, tcp echo on port 7$"


def echo(port, data, timeout=60):
    """Send data to the echo service at 127.0.0.1:port; return what came back."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        def reader():
            while len(got) < len(data):
                b = s.recv(65536)
                if not b:
                    return
                got.extend(b)
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        t.join(timeout)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b"", "the echo did not close after the client did"
    return bytes(got)


def counters(c, n):
    """The `net` command's counters on node n, by name."""
    mark = c.mark(n)
    c.command(n, "net", r"node %d: net$" % n)
    out = c.log(n)[mark:]
    m = re.search(r"net: rx (\d+) frames (\d+) bytes, tx (\d+) frames (\d+) bytes", out)
    d = re.search(r"net: dropped (\d+) \(runt (\d+), oversize (\d+), bad buffer (\d+), "
                  r"no room (\d+)\)", out)
    lw = re.search(r"net: lwip dropped: link (\d+), arp (\d+), ip (\d+)", out)
    e = re.search(r"net: echo on tcp port 7: (\d+) accepted, (\d+) open, (\d+) refused, "
                  r"(\d+) bytes", out)
    assert m and d and lw and e, out
    names = ("rx", "rx_bytes", "tx", "tx_bytes", "dropped", "runt", "oversize", "badid",
             "noroom", "link_drop", "arp_drop", "ip_drop", "accepted", "open", "refused",
             "echo_bytes")
    return dict(zip(names, map(int, m.groups() + d.groups() + lw.groups() + e.groups())))


@pytest.mark.boot
def test_a_host_client_talks_tcp_to_the_echo_of_one_node(launch):
    c = launch(nodes=1, mem="64M", pool="64M")
    c.wait_line(0, NET % (0, 15))
    port = c.cfg()["net"]["echo_ports"][0]
    assert c.launcher_log().count("network hub started") == 1

    assert echo(port, b"hello, node\n") == b"hello, node\n"
    data = os.urandom(1 << 20)        # many windows: flow control both ways
    assert echo(port, data, timeout=120) == data

    k = counters(c, 0)
    assert k["accepted"] == 2 and k["open"] == 0 and k["refused"] == 0, k
    assert k["echo_bytes"] == len(data) + 12, k
    # full-size segments: 1 MiB back takes well under 1000 frames of 1514 bytes
    assert len(data) < k["tx_bytes"] < 2 * len(data) and k["tx"] < 1000, k
    assert k["rx_bytes"] > len(data) and k["dropped"] == 0, k


@pytest.mark.boot
def test_garbage_frames_are_dropped_and_counted_and_the_node_serves_on(launch):
    c = launch(nodes=1, mem="64M", pool="64M")
    c.wait_line(0, NET % (0, 15))
    port = c.cfg()["net"]["echo_ports"][0]
    before = counters(c, 0)
    link = os.path.join(c.run_dir, "net0.sock")  # what the node's QEMU receives on
    mac = bytes.fromhex("525400000000")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for n in (1, 5, 13):                        # shorter than an Ethernet header
            s.sendto(os.urandom(n), link)
        for n in (1515, 4000, 9000):                # longer than any frame
            s.sendto(mac + os.urandom(n - 6), link)
        for i in range(200):                        # IPv4 of random bytes, to us
            s.sendto(mac + os.urandom(6) + b"\x08\x00" + os.urandom(20 + i * 7), link)
        for i in range(50):                         # ARP of random bytes
            s.sendto(mac + os.urandom(6) + b"\x08\x06" + os.urandom(28), link)
    assert echo(port, b"still here\n") == b"still here\n"
    after = counters(c, 0)
    assert after["runt"] - before["runt"] == 3, after
    # QEMU's virtio-net discards a frame larger than the receive buffer
    # itself; any that reach the driver are counted, none is handed up
    assert after["oversize"] - before["oversize"] <= 3, after
    assert after["ip_drop"] - before["ip_drop"] >= 150, after
    assert "panic" not in c.log(0).lower()


@pytest.mark.boot
def test_three_nodes_each_echo_on_their_own_address(launch):
    c = launch(nodes=3, mem="64M", pool="64M")
    for n in range(3):
        c.wait_line(n, NET % (n, 15 + n))
    ports = c.cfg()["net"]["echo_ports"]
    assert len(set(ports)) == 3
    for n, port in enumerate(ports):
        data = ("node %d " % n).encode() * 5000
        assert echo(port, data) == data
    for n in range(3):
        assert counters(c, n)["accepted"] == 1
    hub = c.cfg()["net"]["pid"]
    c.down()
    assert not os.path.exists("/proc/%d" % hub) or \
        "dmos-%s-hub" % c.name not in open("/proc/%d/cmdline" % hub).read().replace("\0", " ")
    assert not [f for f in os.listdir(c.run_dir) if f.startswith(("net", "hub")) and
                f.endswith(".sock")]
