"""The terminal of a foreground `dmos up` (`make run`): one node's console to
type into, every other node's lines beside it.

Until every node has joined, the supervisor shows each console as
`node<N>| ...` lines, as it always did. Then the terminal attaches to node
0's serial socket: what the person types goes to that node (its shell, with
init=init, or its monitor), and what the node prints comes back as it is,
with no prefix, so a prompt and its echo look as on any terminal. The other
nodes' lines keep coming, prefixed; one that arrives while the focused node
has half a line on screen (a prompt being typed at) is put above it and the
half line is drawn again.

Ctrl-] opens a one-line command prompt of the launcher's own:
  <N> Enter     switch to node N's console
  q Enter       stop the cluster (Ctrl-C does too)
  ? Enter       say this
The terminal is in raw mode while attached, except that Ctrl-C still stops
the cluster, and it is restored however the supervisor ends.

Without a terminal on stdin (input from a pipe or a file), the same happens
without raw mode: the input goes to node 0 until it ends.
"""

import os
import socket
import termios
import tty

from . import params

ESC_HELP = ("Ctrl-] then: a node number and Enter switches to that node's console; "
            "q and Enter stops the cluster (so does Ctrl-C); Enter alone goes back")


class Terminal:
    def __init__(self, run, say):
        self.run = run
        self.say = say                  # prints one whole line of the launcher's
        self.tty = os.isatty(0)
        self.saved = None
        self.focus = None               # node whose console we are attached to
        self.sock = None
        self.partial = b""              # the focused node's output since its last newline
        self.cmd = None                 # None, or the Ctrl-] command typed so far
        self.input_open = True
        self.stop_request = None

    # --- set-up ---------------------------------------------------------
    def start(self, node, pending=b""):
        """Every node joined: take the terminal and attach to node's console
        (pending: see attach)."""
        if self.tty:
            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
            attrs = termios.tcgetattr(0)
            attrs[1] |= termios.OPOST | termios.ONLCR   # "\n" still returns the carriage
            attrs[3] |= termios.ISIG                    # Ctrl-C still stops the cluster
            termios.tcsetattr(0, termios.TCSANOW, attrs)
        c = self.run.cfg
        self.say("dmos| cluster %s is up: %d node%s. This terminal is node %d's console;"
                 % (c["cluster"], c["nodes"], "" if c["nodes"] == 1 else "s", node))
        self.say("dmos| the other nodes' lines are shown as nodeN| ..., and their logs "
                 "are in %s." % os.path.relpath(self.run.dir))
        self.say("dmos| " + ESC_HELP + ".")
        self.attach(node, pending)

    def restore(self):
        if self.saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
            self.saved = None
        self.detach()

    # --- which node ------------------------------------------------------
    def attach(self, node, pending=b""):
        """Connect to node's serial socket; pending: what it printed since its
        last newline before we came (its prompt), shown first."""
        path = os.path.join(self.run.dir, "node%d.sock" % node)
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
        except OSError as e:
            s.close()
            self.say("dmos| cannot reach node %d's console (%s): %s"
                     % (node, os.path.relpath(path), e.strerror))
            return False
        self.detach()
        s.setblocking(False)
        self.sock, self.focus, self.partial = s, node, b""
        self.write(pending)
        return True

    def detach(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.focus = None, None

    def owns(self, node):
        return node == self.focus

    # --- output ----------------------------------------------------------
    def write(self, data):
        """Bytes of the focused node, as it printed them."""
        if not data:
            return
        os.write(1, data)
        nl = data.rfind(b"\n")
        self.partial = data[nl + 1:] if nl >= 0 else self.partial + data

    def line(self, text):
        """A whole line from the launcher or another node: above the half line
        the focused node has on screen, which is then drawn again."""
        if self.partial and self.tty:
            os.write(1, b"\r\x1b[K")
        elif self.partial:
            os.write(1, b"\n")
        os.write(1, text.encode("utf-8", "replace") + b"\n")
        if self.partial and self.tty:
            os.write(1, self.partial)
        if self.cmd is not None:
            self.prompt()

    def prompt(self):
        os.write(1, b"\r\x1b[K(dmos) " + self.cmd)

    def on_output(self):
        """The focused node's socket is readable. Return: False once it closed
        (the caller stops watching it, then calls detach)."""
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            self.line("dmos| node %d's console closed (its QEMU exited?); Ctrl-] and a "
                      "node number switches to another one" % self.focus)
            return False
        self.write(data)
        return True

    # --- input -----------------------------------------------------------
    def on_input(self, switch):
        """stdin is readable. switch(node) -> bool changes the focus."""
        data = os.read(0, 1024)
        if not data:
            self.input_open = False
            return
        while data:
            if self.cmd is None:
                key = data.find(bytes([params.DETACH_KEY]))
                to_node, data = (data, b"") if key < 0 else (data[:key], data[key + 1:])
                if to_node and self.sock is not None:
                    self.sock.sendall(to_node)
                if key >= 0:
                    self.cmd = b""
                    self.prompt()
                continue
            c, data = data[:1], data[1:]
            if c in (b"\r", b"\n"):
                self.command(self.cmd.decode(errors="replace").strip(), switch)
            elif c in (b"\x7f", b"\x08"):
                self.cmd = self.cmd[:-1]
                self.prompt()
            elif c == bytes([params.DETACH_KEY]) or c == b"\x1b":
                self.command("", switch)
            elif 0x20 <= c[0] < 0x7f:
                self.cmd += c
                self.prompt()

    def command(self, word, switch):
        self.cmd = None
        os.write(1, b"\r\x1b[K")
        nodes = self.run.cfg["nodes"]
        if word == "":
            pass
        elif word in ("q", "quit"):
            self.stop_request = "asked to stop at the terminal"
        elif word.isdigit() and int(word) < nodes:
            n = int(word)
            if n != self.focus and switch(n):
                self.say("dmos| now on node %d's console" % n)
        elif word.isdigit():
            self.say("dmos| there is no node %s: this cluster has nodes 0-%d"
                     % (word, nodes - 1))
        else:
            self.say("dmos| " + ESC_HELP)
        os.write(1, b"\r\x1b[K" + self.partial)  # the half line, once (line() may have drawn it)


def wanted():
    """Is there input for a node at all? (A closed stdin or /dev/null is none.)"""
    try:
        st = os.fstat(0)
    except OSError:
        return False
    null = os.stat("/dev/null")
    return (st.st_dev, st.st_ino) != (null.st_dev, null.st_ino)
