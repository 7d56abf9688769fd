SRCS_ring := kernel/cluster/ring.c tests/unit/poolsys_host.c
