"""dmoslib: the host side of dmos, used by tools/dmos.

The cluster launcher boots one QEMU per node around a shared pool file and
supervises them (launcher.py, supervisor.py, qemu.py, cluster.py); pool.py
reads the pool's superblock and node table; params.py holds every limit and
default in one place; cli.py turns the command line into calls. Standard
library only, run with Debian's /usr/bin/python3.
"""
