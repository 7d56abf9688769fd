SRCS_vfs := fs/path.c fs/ramfs.c fs/lockf.c fs/file.c
