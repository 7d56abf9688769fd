SRCS_kheap := mm/kheap.c mm/buddy.c
