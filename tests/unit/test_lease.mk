SRCS_lease := kernel/cluster/lease.c tests/unit/poolsys_host.c
