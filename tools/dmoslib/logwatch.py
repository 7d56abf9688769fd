"""Waiting for what a cluster says: a log file followed as it grows.

A node's console log, launcher.log, the ivshmem-server's log and the output
of a foreground `dmos up` are all files that only grow. LogWatch reads one
of them from where it left off, keeps its text cleaned of carriage returns
and terminal escape codes (marks are offsets into that text), and answers
the questions every host program asks of it: does a line match yet (search,
wait, line), what was the last thing said (last), what is new since the
last look (new_lines, take_partial: for streaming). until() is the one polling loop under
every wait with a deadline; a test that waits for a process to exit or a
pool field to change uses it too.

Used by the launcher's `up --detach` (joined.py), the foreground supervisor
(supervisor.py), and the cluster harness (drive.py) of the benchmarks,
tools/experiment and the tests.
"""

import codecs
import re
import time

CSI = re.compile(r"\x1b\[[0-9;?]*([A-Za-z])")
IDLE_FLUSH = 0.5        # seconds before new_lines() hands out a line without newline


def clean_line(text, keep_color=False):
    """Text fit for a terminal or a regex: no carriage returns, cursor moves
    or screen clears (colours kept if keep_color)."""
    text = text.replace("\r", "")
    return CSI.sub(lambda m: m.group(0) if keep_color and m.group(1) == "m" else "",
                   text)


def until(fn, timeout, poll=0.05):
    """Call fn every poll seconds until it returns something true; return that,
    or fn's last (false) answer once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(poll)


def _compile(regex):
    return regex if isinstance(regex, re.Pattern) else re.compile(regex, re.M)


class LogWatch:
    """One log file, read as it grows; a file that does not exist yet reads empty.
    With stream, only new_lines() is asked: what it handed out is forgotten
    (a console followed for hours), so text and marks start after it."""

    def __init__(self, path, keep_color=False, stream=False):
        self.path, self.keep_color, self.stream = path, keep_color, stream
        self.off = 0                            # bytes read so far
        self.dec = codecs.getincrementaldecoder("utf-8")("replace")
        self.whole = ""                         # cleaned text up to the last newline
        self.partial = ""                       # raw text after it
        self.served = 0                         # how much of whole new_lines() handed out
        self.grew = time.monotonic()            # when the file last grew

    @property
    def text(self):
        """Everything read so far, cleaned; offsets into it are marks."""
        return self.whole + clean_line(self.partial, self.keep_color)

    def update(self):
        """Read what the file gained since the last look; returns text."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            data = b""
        if data:
            self.off += len(data)
            self.grew = time.monotonic()
            head, nl, self.partial = (self.partial + self.dec.decode(data)).rpartition("\n")
            self.whole += clean_line(head + nl, self.keep_color)
        return self.text

    def search(self, regex, since=0):
        """The first match of regex (multiline) at or after offset since, or None."""
        return _compile(regex).search(self.update(), since)

    def wait(self, regex, timeout, since=0, poll=0.05):
        """search() until it matches; None if nothing did within timeout seconds."""
        return until(lambda: self.search(regex, since), timeout, poll)

    def line(self, regex, since=0):
        """The first line (stripped) from offset since in which regex matches, or None."""
        rx, text = _compile(regex), self.update()
        for line in text[since:].split("\n"):
            if rx.search(line):
                return line.strip()
        return None

    def last(self, n=1):
        """The last n lines that are not blank (stripped), oldest first."""
        return [w.strip() for w in self.update().split("\n") if w.strip()][-n:]

    def _hand_out(self, upto):
        """Count the text up to offset upto as handed out by new_lines()."""
        chunk, self.served = self.whole[self.served:upto], upto
        if self.stream:
            self.whole, self.served = self.whole[upto:], 0
        return chunk

    def _close_partial(self):
        """Take the line without its newline as if it had ended; returns it raw."""
        raw, self.partial = self.partial, ""
        self.whole += clean_line(raw, self.keep_color)
        return raw

    def new_lines(self, final=False, hold=False):
        """The lines completed since the last call; a line still without its
        newline too with final, or (unless hold) once the file has not grown
        for IDLE_FLUSH seconds. What such a line gets later comes as a line
        of its own."""
        self.update()
        if self.partial and (final or (not hold and time.monotonic() - self.grew > IDLE_FLUSH)):
            self._close_partial()
        chunk = self._hand_out(len(self.whole))
        if not chunk:
            return []
        return chunk[:-1].split("\n") if chunk.endswith("\n") else chunk.split("\n")

    def take_partial(self):
        """Read to the end and hand out the line without its newline, raw (escape
        codes and all, as bytes): for a terminal that shows the rest itself.
        The lines before it are handed out too, unseen."""
        self.update()
        raw = self._close_partial()
        self._hand_out(len(self.whole))
        return raw.encode("utf-8")
