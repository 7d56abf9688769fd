SRCS_locktab := fs/locktab.c fs/lockf.c tests/unit/poolsys_host.c
