SRCS_claims := net/porttab.c kernel/cluster/lease.c tests/unit/poolsys_host.c
