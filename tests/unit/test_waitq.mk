SRCS_waitq := sched/waitq.c tests/unit/poolsys_host.c
