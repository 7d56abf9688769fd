"""dmoslib: the host side of dmos, used by tools/dmos.

The cluster launcher boots one QEMU per node around a shared pool file and
supervises them (launcher.py, supervisor.py, qemu.py, cluster.py, joined.py),
with the doorbell server ivshmem-server started per cluster (ivshmem.py);
pool.py reads the pool's superblock and node table, poolctl.py its leases
and rings, poolmem.py its translation, regions and allocator, and
inspector.py puts them together for `dmos pool`; inject.py is the fault
injector of `dmos fail-region` and `dmos fail-link`; poolimage.py writes
synthetic pool images for tests; drive.py drives a cluster from host
programs (the benchmarks, tools/experiment, the tests); logwatch.py follows
log files as they grow; params.py holds every limit and default in one place; cli.py
turns the command line into calls. Standard library only, run with
Debian's /usr/bin/python3.
"""
