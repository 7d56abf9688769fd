SRCS_porttab := net/porttab.c kernel/cluster/lease.c tests/unit/poolsys_host.c
