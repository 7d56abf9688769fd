# dmos: a multikernel for servers sharing a CXL memory pool.
#
#   make            build the kernel and the bootable ISO (build/dmos.iso)
#   make run        boot a cluster of NODES (default 3) nodes and watch it
#   make test       run every test: host unit tests, tool tests, cluster tests
#   make bench      run the benchmarks, write bench/RESULTS.md
#   make gdb        boot a cluster with node GDB_NODE waiting for gdb
#   make install DISK=PATH   put the programs into /bin of the dmosfs image
#                   PATH (a disk `dmos up` creates gets them by itself)
#
# `run`, `test` and `bench` first install missing Debian packages.

NODES    ?= 3
MEM      ?= 128M
POOL     ?= 256M
CLUSTER  ?= dmos
GDB_NODE ?= 0
PYTHON   := /usr/bin/python3
DMOS     := $(PYTHON) tools/dmos

B := build
CC := gcc
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wmissing-prototypes -Wundef -Werror -I. \
	-ffreestanding -fno-pie -fno-pic -fno-stack-protector -fno-omit-frame-pointer \
	-mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mgeneral-regs-only \
	-MMD -MP
ASFLAGS := -I. -MMD -MP
LDFLAGS := -nostdlib -static -no-pie -Wl,--no-warn-rwx-segments -Wl,--build-id=none -z max-page-size=4096 -T arch/x86_64/kernel.ld

KSRCS := $(wildcard arch/x86_64/*.S arch/x86_64/*.c kernel/*.c kernel/cluster/*.c mm/*.c sched/*.c \
	fs/*.c net/*.c)
KOBJS := $(patsubst %,$(B)/obj/%.o,$(basename $(KSRCS)))

# lwIP 2.1.3, from Debian's lwip source package (tools/fetch-source.sh; the
# source is never kept in the tree): its NO_SYS core, IPv4 and Ethernet,
# built into the kernel with our port layer in net/include (lwipopts.h,
# arch/cc.h, string.h and stdlib.h over kernel/kernel.h). Only net/ and
# lwIP see those headers. lwIP is third-party code: it gets the kernel's
# code generation flags but not our stricter warnings.
.DEFAULT_GOAL := all
LWIP := $(B)/lwip
LWIP_STAMP := $(LWIP)/.dmos-source
LWIP_SRCS := core/def.c core/inet_chksum.c core/init.c core/ip.c core/mem.c core/memp.c \
	core/netif.c core/pbuf.c core/stats.c core/sys.c core/tcp.c core/tcp_in.c \
	core/tcp_out.c core/timeouts.c core/udp.c core/ipv4/dhcp.c core/ipv4/etharp.c \
	core/ipv4/icmp.c core/ipv4/ip4.c core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c \
	netif/ethernet.c
LWIP_OBJS := $(LWIP_SRCS:%.c=$(B)/obj/lwip/%.o)
LWIP_INC := -Inet/include -I$(LWIP)/src/include
LWIP_CFLAGS := $(filter-out -Werror -Wmissing-prototypes -Wshadow -Wundef -Wextra,$(CFLAGS)) \
	-Wno-address $(LWIP_INC)
NET_OBJS := $(filter $(B)/obj/net/%,$(KOBJS))
KOBJS += $(LWIP_OBJS)

$(LWIP_STAMP):
	@sh tools/fetch-source.sh lwip $(LWIP)
	@grep -q '^lwip 2\.1\.3' $@ || { echo "lwip: $$(cat $@), not 2.1.3" >&2; rm -f $@; exit 1; }
$(LWIP)/src/%.c: | $(LWIP_STAMP)
	@test -f $@

$(B)/obj/lwip/%.o: $(LWIP)/src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      lwip/$*.c"
	@$(CC) $(LWIP_CFLAGS) -c $< -o $@

$(NET_OBJS): CFLAGS += $(LWIP_INC)
$(NET_OBJS): | $(LWIP_STAMP)

.PHONY: all deps run test unit tools-test cluster-test bench gdb install clean
all: $(B)/dmos.iso

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) $(ASFLAGS) -c $< -o $@

$(B)/kernel.elf: $(KOBJS) arch/x86_64/kernel.ld
	$(CC) $(LDFLAGS) -o $@ $(KOBJS) -lgcc

# GRUB boots the kernel with multiboot2. We build GRUB's El Torito image
# ourselves (grub-mkimage, then xorriso) instead of calling grub-mkrescue.
# Under TCG GRUB's time goes to LZMA-unpacking its core image, so the core
# holds only what reads the CD (biosdisk, iso9660) and the boot commands
# (arch/x86_64/grub.cfg, embedded: no grub.cfg is read). The commands then
# `insmod multiboot2`, which reads it and the modules it needs, uncompressed,
# from /boot/grub/i386-pc on the CD: about 4x less to unpack than a core with
# multiboot2 inside (bench/RESULTS.md has the boot times).
GRUB_DIR := /usr/lib/grub/i386-pc
GRUB_CORE_MODULES := biosdisk iso9660
INITRD ?= $(B)/userland/initrd.cpio
$(B)/dmos.iso: $(B)/kernel.elf arch/x86_64/grub.cfg arch/x86_64/grub-moddeps $(INITRD)
	@echo "  ISO     $@"
	@rm -rf $(B)/iso && mkdir -p $(B)/iso/boot/grub/i386-pc
	@strip --strip-debug -o $(B)/iso/boot/dmos.elf $(B)/kernel.elf
	@cp $(INITRD) $(B)/iso/boot/initrd.cpio
	@for m in $$(arch/x86_64/grub-moddeps $(GRUB_DIR)/moddep.lst multiboot2); do \
		cp $(GRUB_DIR)/$$m.mod $(B)/iso/boot/grub/i386-pc/ || exit 1; done
	@grub-mkimage -O i386-pc-eltorito -d $(GRUB_DIR) -p /boot/grub \
		-c arch/x86_64/grub.cfg -o $(B)/iso/boot/grub/eltorito.img $(GRUB_CORE_MODULES)
	@xorriso -as mkisofs -quiet -R -b boot/grub/eltorito.img -no-emul-boot \
		-boot-load-size 4 -boot-info-table -o $@ $(B)/iso 2>$(B)/xorriso.log \
		|| { cat $(B)/xorriso.log; exit 1; }

# Userland: newlib (built once from Debian's newlib-source), the programs in
# userland/bin, and build/userland/initrd.cpio that GRUB loads beside the kernel.
$(B)/userland/initrd.cpio: FORCE
	@$(MAKE) --no-print-directory -C userland
.PHONY: FORCE
FORCE:

# Host tools in C: build/tools/dmosfs makes, checks and fills dmosfs images
# (tools/fs, with fs/format.c, the code it shares with the kernel);
# dmosfs-asan is the same built with sanitizers, for tests/tools.
TOOL_WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wundef -Werror
TOOL_CFLAGS := -std=gnu11 -O2 -g $(TOOL_WARN) -I. -MMD -MP
ASAN_CFLAGS := -std=gnu11 -O1 -g $(TOOL_WARN) -I. -MMD -MP \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
DMOSFS_SRCS := $(wildcard tools/fs/*.c) fs/format.c fs/fsops.c
DMOSFS_OBJS := $(DMOSFS_SRCS:%.c=$(B)/tools/obj/%.o)
DMOSFS_ASAN_OBJS := $(DMOSFS_SRCS:%.c=$(B)/tools/obj-asan/%.o)

.PHONY: tools
all: tools
tools: $(B)/tools/dmosfs

$(B)/tools/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	@$(CC) $(TOOL_CFLAGS) -c $< -o $@

$(B)/tools/obj-asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $< (asan)"
	@$(CC) $(ASAN_CFLAGS) -c $< -o $@

$(B)/tools/dmosfs: $(DMOSFS_OBJS)
	$(CC) $(TOOL_CFLAGS) -o $@ $^

$(B)/tools/dmosfs-asan: $(DMOSFS_ASAN_OBJS)
	$(CC) $(ASAN_CFLAGS) -o $@ $^

deps:
	@sh tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(DMOS) up --nodes $(NODES) --mem $(MEM) --pool $(POOL) --cluster $(CLUSTER) --node-arg all:init=init

unit:
	$(MAKE) -C tests/unit run
	$(MAKE) -C userland check host-test

# The host tools on their own (no kernel booted): tests/tools.
# After the build: the install tests use build/tools/dmosfs and the programs.
tools-test: all
	$(PYTHON) -m pytest -q tests/tools

cluster-test: all
	$(PYTHON) -m pytest -q tests/cluster

test: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory tools-test
	@$(MAKE) --no-print-directory cluster-test

# make bench BASELINE=REV: also build REV under build/baseline and run both, interleaved.
# make bench ONLY="fs-read fs-meta": only these; RESULTS.md keeps the other parts.
bench: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) bench/run.py$(if $(BASELINE), --baseline $(BASELINE))$(if $(ONLY), $(ONLY))

gdb: deps
	@$(MAKE) --no-print-directory all
	$(DMOS) up --nodes $(NODES) --mem $(MEM) --pool $(POOL) --cluster $(CLUSTER) --gdb-wait $(GDB_NODE)

# The programs as the initrd holds them (build/userland/initrd/), into /bin of
# a disk image the user keeps (tools/dmoslib/install.py).
install: all
	@test -n "$(DISK)" || { echo "make install: which disk? make install DISK=PATH" >&2; exit 2; }
	$(DMOS) install --disk-path $(DISK)

clean:
	rm -rf $(B)

-include $(KOBJS:.o=.d)
-include $(DMOSFS_OBJS:.o=.d) $(DMOSFS_ASAN_OBJS:.o=.d)
