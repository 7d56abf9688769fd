SRCS_pcache_race := fs/pcache.c tests/unit/poolsys_host.c tests/unit/pcache_env.c
