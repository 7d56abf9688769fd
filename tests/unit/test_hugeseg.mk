SRCS_hugeseg := mm/xlate.c mm/palloc.c tests/unit/poolsys_host.c tests/unit/xlate_env.c
