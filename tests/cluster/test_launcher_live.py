"""Tests of the cluster launcher (tools/dmos) on real clusters.

Real QEMU nodes boot from the ISO, with the doorbell (ivshmem-doorbell and
the cluster's ivshmem-server) and without it (ivshmem-plain); no way of
stopping a cluster (down, Ctrl-C, a killed QEMU, a killed supervisor, a
timeout) leaves a QEMU, an ivshmem-server, a pool file, a socket or a pid
file behind. Bad input, which boots nothing, is in
tests/tools/test_launcher.py.
"""

import os
import re
import signal

import pytest

from conftest import ISO, new_name, run_dmos
from dmoslib import params, qemu
from dmoslib.logwatch import until


@pytest.mark.boot
@pytest.mark.parametrize("doorbell", [True, False], ids=["doorbell", "no-doorbell"])
def test_three_nodes_join_with_and_without_the_doorbell(launch, doorbell):
    c = launch(nodes=3, extra=[] if doorbell else ["--no-doorbell"])
    cfg, st, text = c.cfg(), c.status(), c.dmos("status").stdout
    assert cfg["doorbell"] is doorbell and "3/3 nodes joined" in c.result.stdout
    sock = os.path.join(c.run_dir, "ivshmem.sock")
    args = {n: re.findall(r"ivshmem-\S+|memory-backend-file\S*|socket,id=ivs\S*",
                          qemu.proc_cmdline(pid)) for n, pid in c.pids().items()}
    if doorbell:
        assert "doorbell on (ivshmem-server)" in c.result.stdout
        assert all(a == ["socket,id=ivs,path=%s" % sock,
                         "ivshmem-doorbell,chardev=ivs,vectors=1"] for a in args.values()), args
        assert c.server_procs() == [cfg["ivshmem"]["pid"]] and os.path.exists(sock)
        log = c.server_log()
        assert re.search(r"ivshmem-server: listening on %s, pool %s \(64 MiB\), 1 vectors"
                         % (re.escape(sock), re.escape(c.pool_path)), log), log
        peers = {int(m.group(2)): int(m.group(1)) for m in re.finditer(
            r"peer (\d+) connected \(pid (\d+), 1 vectors\)", log)}
        assert re.search(r", 3 peers: 0 1 2$", log, re.M), log
        assert sorted(peers) == sorted(c.pids().values())
        srv = st["ivshmem_server"]
        assert st["doorbell"] and srv["alive"] and srv["peers"] == [0, 1, 2]
        assert "doorbell on: ivshmem-server pid %d, 3 peers connected (0 1 2)" \
            % srv["pid"] in text
        # each node publishes its ivshmem peer id for the others to ring
        for n, pid in c.pids().items():
            assert c.pool().node(n).doorbell == peers[pid], (n, pid, peers)
            assert st["nodes"][n]["doorbell"] == peers[pid]
        events = c.launcher_log()
        assert events.index("ivshmem-server started") < events.index("qemu started")
    else:
        assert "no doorbell (nodes poll)" in c.result.stdout
        assert all(a == ["memory-backend-file,id=pool,share=on,mem-path=%s,size=%d"
                         % (c.pool_path, 64 << 20), "ivshmem-plain,memdev=pool"]
                   for a in args.values()), args
        assert c.server_procs() == [] and not os.path.exists(sock)
        assert not st["doorbell"] and st["ivshmem_server"] is None
        assert "doorbell off: ivshmem-plain" in text
        assert all(c.pool().node(n).doorbell == -1 == st["nodes"][n]["doorbell"]
                   for n in range(3))
    c.down()
    assert c.leftovers() == []
    if doorbell:
        assert "ivshmem-server pid %d stopped (status 0)" % cfg["ivshmem"]["pid"] \
            in c.launcher_log()
        assert "SIGTERM: exiting" in c.server_log()


@pytest.mark.boot
def test_up_detach_then_down_leaves_nothing(launch):
    c = launch(nodes=3)
    assert "waiting for nodes" in c.result.stdout
    assert "3/3 nodes joined" in c.result.stdout
    assert len(c.qemu_procs()) == 3
    assert len(c.server_procs()) == 1
    assert os.path.exists(c.pool_path)
    st = c.status()
    assert st["running"] and all(n["alive"] for n in st["nodes"])
    c.pool()                                    # readable while running
    port = c.cfg()["node"][2]["gdb_port"]
    r = c.dmos("gdb", 2)
    assert r.stdout.strip() == "gdb -x %s -ex 'target remote 127.0.0.1:%d'" % (
        params.GDBINIT, port)
    pool_path = c.pool_path
    c.down()
    assert c.qemu_procs() == [] and c.server_procs() == []
    assert not os.path.exists(pool_path)
    assert c.leftovers() == []
    assert all(c.log(n) for n in range(3))      # the logs stay


@pytest.mark.boot
def test_second_up_with_the_same_name_is_refused(launch):
    c = launch(nodes=2)
    pids = c.pids()
    r = run_dmos("up", "--detach", "--cluster", c.name, "-n", 2, "--mem", "64M",
                 "--pool", "64M", "--iso", ISO)
    assert r.returncode == 2
    assert "cluster %r is already running" % c.name in r.stderr
    assert c.pids() == pids and all(c.alive(n) for n in range(2))


@pytest.mark.boot
def test_pool_in_use_is_refused(launch):
    c = launch(nodes=1)
    other = new_name()
    r = run_dmos("up", "--detach", "--cluster", other, "-n", 1, "--mem", "64M",
                 "--pool", "64M", "--iso", ISO, "--pool-path", c.pool_path)
    assert r.returncode == 2 and "is in use by pid" in r.stderr, r.stderr
    assert not os.path.exists(params.run_dir_for(other))


@pytest.mark.boot
def test_ctrl_c_to_foreground_up_cleans_up(launch):
    c = launch(nodes=2, detach=False)
    for n in range(2):
        c.wait_line(n, params.JOIN_RE.pattern)
    out = c.output()                            # the consoles, streamed by the supervisor
    for n in range(2):
        assert out.wait(r"^node%d\| " % n, 10), out.text
    assert "doorbell on (ivshmem-server)" in out.text
    assert len(c.server_procs()) == 1
    assert c.interrupt() == 0
    assert c.qemu_procs() == [] and c.server_procs() == [] and c.leftovers() == []
    assert "got SIGINT" in c.launcher_log()
    assert "ivshmem-server pid" in c.launcher_log() and "stopped (status 0)" \
        in c.launcher_log()


@pytest.mark.boot
def test_kill_one_node_keeps_the_others(launch):
    c = launch(nodes=3)
    pids = c.pids()
    events = c.launcher()
    c.kill(1)
    # the supervisor logs the exit once it has reaped the QEMU and removed its sockets
    assert events.wait(r"node 1: qemu exited \(status -9, killed by SIGKILL\)", 10), \
        events.text
    assert not c.alive(1) and c.alive(0) and c.alive(2)
    assert sorted(c.qemu_procs()) == sorted([pids[0], pids[2]])
    assert "fault: dmos kill 1" in events.text
    assert not os.path.exists(os.path.join(c.run_dir, "node1.sock"))
    assert [n["alive"] for n in c.status()["nodes"]] == [True, False, True]
    # the ivshmem-server dies too: the nodes keep the pool they mapped
    (server,) = c.server_procs()
    os.kill(server, signal.SIGKILL)
    assert events.wait(r"ivshmem-server pid %d exited \(status -9, killed by SIGKILL\); the "
                       r"nodes keep their pool" % server, 10), events.text
    assert c.alive(0) and c.alive(2) and not os.path.exists(c.run_dir + "/ivshmem.sock")
    st = c.status()
    assert st["running"] and not st["ivshmem_server"]["alive"]
    assert "ivshmem-server killed by SIGKILL" in c.dmos("status").stdout
    c.down()
    assert c.leftovers() == []


@pytest.mark.boot
def test_killing_every_qemu_makes_the_supervisor_clean_up(launch):
    c = launch(nodes=2)
    sup = c.supervisor_pid()
    server = c.server_procs()
    assert len(server) == 1
    for pid in c.pids().values():
        os.kill(pid, signal.SIGKILL)
    assert c.wait_clean(15) == []               # the server went with the last node
    assert not qemu.alive(server[0])
    assert until(lambda: not qemu.alive(sup), 5), "the supervisor outlived its nodes"
    assert "every node has exited" in c.launcher_log()
    c.is_down = True
    r = c.dmos("down")
    assert r.returncode == 1 and "is running" in r.stderr


@pytest.mark.boot
def test_dead_supervisor_takes_its_qemus_along_and_down_cleans(launch):
    c = launch(nodes=2)
    os.kill(c.supervisor_pid(), signal.SIGKILL)
    # PR_SET_PDEATHSIG: the kernel kills them; nothing is left to log it
    assert until(lambda: not (c.qemu_procs() or c.server_procs()), 10, 0.1), \
        (c.qemu_procs(), c.server_procs())
    assert os.path.exists(c.pool_path)           # stale until someone cleans
    assert os.path.exists(os.path.join(c.run_dir, "ivshmem.sock"))
    r = c.dmos("down")
    assert r.returncode == 0 and "supervisor is gone" in r.stdout, r
    assert c.leftovers() == []
    again = launch(nodes=2, name=c.name)         # the name is free again
    assert again.status()["running"]


@pytest.mark.boot
def test_detach_timeout_names_the_missing_node_and_cleans_up(launch):
    c = launch(nodes=2, check=False, timeout=4, extra=["--gdb-wait", "1"])
    r = c.result
    assert r.returncode == 1
    assert "timed out after 4 s" in r.stderr and "node 1 did not join" in r.stderr
    assert "node1's last console line: (no output at all)" in r.stderr
    assert c.wait_clean(5) == []


@pytest.mark.boot
def test_unused_stale_pool_file_is_replaced(launch):
    name = new_name()
    stale = params.pool_path_for(name)
    with open(stale, "wb") as f:
        f.write(b"junk from a crashed run")
    c = launch(nodes=1, name=name)
    assert "replacing stale pool file %s" % stale in c.result.stdout
    assert os.path.getsize(stale) == 64 << 20
    c.down()
    assert not os.path.exists(stale)
