SRCS_ring := kernel/ring.c tests/unit/poolsys_host.c
