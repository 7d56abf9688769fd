SRCS_palloc := mm/palloc.c tests/unit/poolsys_host.c
