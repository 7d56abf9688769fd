SRCS_kthread := kernel/kthread.c
