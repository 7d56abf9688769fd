SRCS_buddy := mm/buddy.c
