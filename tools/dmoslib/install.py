"""Installing programs into /bin of a dmosfs image: what the nodes run.

A node runs a program named without a '/' from /bin of the cluster file
system when it is there, else from its initrd. The programs are those of
the userland build, stripped, as the initrd holds them
(build/userland/initrd/, the directory userland/Makefile makes the cpio
archive from), so /bin and the initrd carry the same files. `dmos up`
installs them into the disk it creates; `dmos install --disk-path PATH`
(or `make install DISK=PATH`) into a disk the user keeps, replacing what
/bin held under the same names and leaving other files alone.

Everything goes through the host tool build/tools/dmosfs (ls, mkdir, rm,
put), which writes through a journal as a node does. `dmos install`
refuses an image a QEMU has open (cli.py): its nodes would not see the
change (their page cache is in the pool) and their writes would race the
tool's.

A disk `dmos up` creates also gets a web root, /www with an index.html
(www()), which httpd serves by default: init starts httpd on every node
when /www is there, so a cluster booted with `make run` answers HTTP on
the cluster IP from the start (docs/net.md).
"""

import os
import subprocess

from . import params
from .params import DmosError, UsageError

BIN = "/bin"
WWW = "/www"
INDEX = """<!doctype html>
<html><head><title>dmos cluster %(cluster)s</title></head>
<body>
<h1>dmos cluster %(cluster)s</h1>
<p>This page is /www/index.html on the cluster file system, served by httpd
on whichever of the %(nodes)d nodes the cluster IP gave this connection to.
<a href="/status">/status</a> names the node that answers.</p>
</body></html>
"""


def programs(src=None):
    """[(name, host path)] of the programs to install, sorted by name."""
    src = src or params.PROGRAMS_DIR
    try:
        names = sorted(os.listdir(src))
    except FileNotFoundError:
        raise UsageError("no programs in %s: run make first%s" % (
            os.path.relpath(src), "" if src == params.PROGRAMS_DIR else " or give another --from"))
    except OSError as e:
        raise UsageError("%s: %s" % (src, e.strerror))
    found = [(n, os.path.join(src, n)) for n in names
             if os.path.isfile(os.path.join(src, n)) and not n.startswith(".")]
    if not found:
        raise UsageError("no programs in %s: run make first" % os.path.relpath(src))
    return found


def tool(*args):
    """Run build/tools/dmosfs; returns its CompletedProcess (never raises on failure)."""
    return subprocess.run([params.DMOSFS, *map(str, args)], capture_output=True, text=True)


def said(r):
    """What the tool said when it failed, without its name."""
    return (r.stderr or r.stdout).strip().replace("dmosfs: ", "", 1)


def _bin_entries(image):
    """Names in /bin of image; None if there is no /bin. Refuses a /bin that is a file."""
    top = tool("ls", "-l", image, "/")
    if top.returncode != 0:
        raise DmosError("cannot list / of %s: %s" % (image, said(top)))
    for line in top.stdout.splitlines():
        fields = line.split()
        if fields and fields[-1] == BIN[1:]:
            if not line.startswith("d"):
                raise DmosError("%s: %s is a file, not a directory; remove it first "
                                "(build/tools/dmosfs rm %s %s)" % (image, BIN, image, BIN))
            break
    else:
        return None
    r = tool("ls", image, BIN)
    if r.returncode != 0:
        raise DmosError("cannot list %s of %s: %s" % (BIN, image, said(r)))
    return set(r.stdout.split())


def install(image, src=None, echo=None):
    """Put every program of src into /bin of image (made if missing),
    replacing the files of those names; echo(line) is called for each.
    Returns how many were installed. Raises DmosError (nothing more is
    installed after a failure; the image stays consistent: each step is
    one journaled operation of the tool)."""
    progs = programs(src)
    there = _bin_entries(image)
    if there is None:
        r = tool("mkdir", image, BIN)
        if r.returncode != 0:
            raise DmosError("cannot make %s in %s: %s" % (BIN, image, said(r)))
        there = set()
    for name, path in progs:
        dest = "%s/%s" % (BIN, name)
        if name in there:
            r = tool("rm", image, dest)
            if r.returncode != 0:
                raise DmosError("cannot replace %s in %s: %s" % (dest, image, said(r)))
        r = tool("put", image, path, dest)
        if r.returncode != 0:
            raise DmosError("cannot install %s into %s: %s%s" % (
                dest, image, said(r), "; the disk is too small for the programs, "
                "choose a larger one" if "space" in said(r) else ""))
        if echo:
            echo("installed %s (%s bytes%s)" % (dest, os.path.getsize(path),
                                                ", replaced" if name in there else ""))
    return len(progs)


def www(image, cluster, nodes, echo=None):
    """Make /www/index.html in image (a fresh disk of `dmos up`): the page
    httpd serves at /. Raises DmosError."""
    r = tool("mkdir", image, WWW)
    if r.returncode != 0:
        raise DmosError("cannot make %s in %s: %s" % (WWW, image, said(r)))
    page = os.path.join(os.path.dirname(os.path.abspath(image)), ".index-%d.html" % os.getpid())
    try:
        with open(page, "w") as f:
            f.write(INDEX % {"cluster": cluster, "nodes": nodes})
        r = tool("put", image, page, WWW + "/index.html")
    finally:
        os.unlink(page)
    if r.returncode != 0:
        raise DmosError("cannot put %s/index.html into %s: %s" % (WWW, image, said(r)))
    if echo:
        echo("made %s/index.html" % WWW)
