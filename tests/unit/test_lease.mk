SRCS_lease := kernel/lease.c tests/unit/poolsys_host.c
