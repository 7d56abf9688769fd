SRCS_virtq := fs/virtq.c
