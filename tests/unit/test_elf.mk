SRCS_elf := sched/elf.c
