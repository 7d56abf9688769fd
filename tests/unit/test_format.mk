SRCS_format := fs/format.c
