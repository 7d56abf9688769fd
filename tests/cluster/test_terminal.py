"""`make run`'s terminal: a foreground `dmos up` ends at node 0's shell, a
person can switch to any other node's shell, and can stop the cluster from
there. Driven through a real pseudo-terminal (pexpect), as a person types.
"""

import os
import re
import subprocess
import sys

import pexpect
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
from dmoslib import params  # noqa: E402

CTRL_RBRACKET = "\x1d"


def up(name, iso, nodes):
    return pexpect.spawn("/usr/bin/python3", [
        os.path.join(REPO, "tools", "dmos"), "up", "--cluster", name, "-n", str(nodes),
        "--mem", "64M", "--pool", "64M", "--iso", iso, "--node-arg", "all:init=init"],
        cwd=REPO, encoding="utf-8", timeout=120, dimensions=(50, 200))


def left_behind(name):
    run = params.run_dir_for(name)
    left = [f for f in os.listdir(run) if f.endswith((".sock", ".qmp", ".pid"))] \
        if os.path.isdir(run) else []
    return left + [p for p in [params.pool_path_for(name)] if os.path.exists(p)]


@pytest.mark.boot
def test_make_run_ends_at_node0_shell_and_reaches_the_others(cluster_name, iso):
    t = up(cluster_name, iso, 3)
    try:
        # the launcher names the cluster's HTTP server behind the cluster IP
        t.expect(r"web: .* curl http://127\.0\.0\.1:(\d+)/status \(the cluster IP's port 80")
        web = int(t.match.group(1))
        t.expect(r"This terminal is node 0's console")
        t.expect(r"sh\$ ")
        # ps lists every node's processes; what we typed came back (echo). The
        # last node to join may not have started its shell yet: ask again.
        for _ in range(20):
            t.sendline("ps")
            t.expect(r"ps\r+\n\s+PID\s+PPID\s+NODE")
            if t.expect([r"\s200000\d\s+2000001\s+2 \S+ .* sh\r+\n", r"sh\$ "]) == 0:
                break
        else:
            pytest.fail("ps never listed node 2's shell")
        t.expect(r"sh\$ ")
        # init started httpd on every node: the host reaches it through the forward
        status = subprocess.run(["curl", "-sS", "--max-time", "10", "--retry", "5",
                                 "--retry-connrefused", "http://127.0.0.1:%d/status" % web],
                                capture_output=True, text=True)
        assert status.returncode == 0 and re.search(r"^node [0-2]$", status.stdout, re.M), \
            status.stdout + status.stderr
        # another node's output is prefixed, ours is not
        t.sendline("@2 hello")
        t.expect(r"node2\| hello from node 2 of 3 in cluster")
        t.send(CTRL_RBRACKET)
        t.expect(r"\(dmos\) ")
        t.send("1\r")
        t.expect(r"now on node 1's console")
        t.sendline("free")
        t.expect(r"node 1 of cluster %s" % cluster_name)
        t.expect(r"sh\$ ")
        t.send(CTRL_RBRACKET + "9\r")
        t.expect(r"there is no node 9: this cluster has nodes 0-2")
        t.send(CTRL_RBRACKET + "q\r")
        t.expect(r"stopping cluster %s: asked to stop at the terminal" % cluster_name)
        t.expect(r"cluster %s is down" % cluster_name)
        t.expect(pexpect.EOF)
    finally:
        t.close(force=True)
    assert t.exitstatus == 0, t.before
    assert left_behind(cluster_name) == []


@pytest.mark.boot
def test_ctrl_c_at_the_shell_stops_the_cluster(cluster_name, iso):
    t = up(cluster_name, iso, 1)
    try:
        t.expect(r"sh\$ ")
        t.sendintr()
        t.expect(r"stopping cluster %s: got SIGINT" % cluster_name)
        t.expect(pexpect.EOF)
    finally:
        t.close(force=True)
    assert t.exitstatus == 0
    assert left_behind(cluster_name) == []
