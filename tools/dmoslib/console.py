"""`dmos console N`: a node's serial console on this terminal, like telnet.

Connects to the node's serial socket (node<N>.sock in the run dir) and copies
bytes both ways until Ctrl-] or until the node goes away. The terminal is put
in raw mode (output processing stays on, so a bare newline still returns the
carriage) and is always restored. QEMU serves one console client at a time;
everything the node prints is also in node<N>.log, connected or not.
"""

import fcntl
import os
import select
import socket
import struct
import sys
import termios
import time
import tty

from . import params


def type_into(sock_path, data, timeout=10):
    """Type data on a node's console and wait until QEMU has read all of it:
    QEMU drops what is still unread when the client hangs up, and it reads
    only as fast as the guest empties its UART. Return: True, or False if
    the node did not read it all within timeout seconds."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(data.encode() if isinstance(data, str) else data)
        deadline = time.monotonic() + timeout
        while struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, bytes(4)))[0]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
    return True


def attach(sock_path, log_path, label):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sock_path)
    except OSError as e:
        s.close()
        raise params.DmosError("cannot connect to %s's console %s: %s"
                               % (label, sock_path, e.strerror))
    interactive = sys.stdin.isatty()
    if interactive:
        print("dmos: connected to %s; Ctrl-] detaches (its log: %s)"
              % (label, os.path.relpath(log_path)), file=sys.stderr)
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        attrs = termios.tcgetattr(0)
        attrs[1] |= termios.OPOST | termios.ONLCR
        termios.tcsetattr(0, termios.TCSANOW, attrs)
    try:
        reason = _relay(s, interactive)
    finally:
        if interactive:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        s.close()
    if interactive or reason != "input ended":
        print("\ndmos: %s: %s" % (label, reason), file=sys.stderr)
    return 0


def _relay(s, interactive):
    stdin_open, drain_until = True, None
    while True:
        fds = [s] + ([0] if stdin_open else [])
        timeout = None if drain_until is None else max(0, drain_until - time.monotonic())
        ready, _, _ = select.select(fds, [], [], timeout)
        if not ready and drain_until is not None:
            return "input ended"
        if s in ready:
            data = s.recv(4096)
            if not data:
                return "the node's console closed (did its QEMU exit?)"
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 1024)
            if not data:                    # piped input is done: show replies
                stdin_open, drain_until = False, time.monotonic() + 1.0
                continue
            key = data.find(bytes([params.DETACH_KEY]))
            if key >= 0:
                s.sendall(data[:key])
                return "detached"
            s.sendall(data)
