SRCS_poolcheck := kernel/cluster/poolcheck.c kernel/cluster/ring.c mm/xlate.c mm/palloc.c \
	fs/pcache.c net/porttab.c kernel/cluster/lease.c tests/unit/poolsys_host.c
$(OUT)/test_poolcheck.o: CFLAGS += -DPOOLCHECK_CASES='"$(abspath poolcheck_cases.txt)"'

# The checker as a command, `poolcheck FILE` or `poolcheck --list`, which
# tests/tools/test_poolcheck.py runs on the inspector's pool images.
$(OUT)/poolcheck: $(OUT)/tests/unit/poolcheck_cli.o $(OUT)/kernel/cluster/poolcheck.o \
		$(OUT)/kernel/cluster/ring.o $(OUT)/mm/xlate.o $(OUT)/mm/palloc.o $(OUT)/fs/pcache.o \
		$(OUT)/net/porttab.o $(OUT)/kernel/cluster/lease.o $(OUT)/tests/unit/poolsys_host.o
	$(CC) $(CFLAGS) $^ -o $@
all run: $(OUT)/poolcheck
