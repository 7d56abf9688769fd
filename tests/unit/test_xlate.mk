SRCS_xlate := mm/xlate.c mm/palloc.c tests/unit/poolsys_host.c
