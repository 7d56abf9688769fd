/*
 * The pool driver: find the pool (ivshmem BAR2), format or check its
 * superblock, take this node's slot in the node table, keep its heartbeat
 * going and wait for the rest of the cluster.
 *
 * Every store that other nodes read goes in a fixed order: the body first,
 * a release fence, the word that publishes it (magic, state) last, then a
 * flush of the line (see arch_pool_flush for why).
 */
#include "kernel/kernel.h"
#include "kernel/cluster/pool.h"
#include "kernel/cluster/msg.h"
#include "kernel/pci.h"
#include "kernel/cluster/poolcheck.h"
#include "kernel/cluster/poolsys.h"
#include "kernel/cluster/ring.h"
#include "kernel/cluster/doorbell.h"
#include "mm/palloc.h"
#include "mm/xlate.h"
#include "mm/pmem.h"
#include "mm/seg.h"
#include "fs/clusterlk.h"
#include "fs/dmosfs.h"
#include "fs/pcache.h"
#include "sched/futex.h"
#include "sched/remote.h"
#include "net/vip.h"
#include "arch/arch.h"
#include "kernel/bits.h"

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

struct pool pool;
static uint8_t *leases;                 /* the lease area, one lease per cache line */

static const char *const state_names[] = {
	[NODE_ABSENT] = "absent", [NODE_JOINING] = "joining", [NODE_UP] = "up",
	[NODE_HALTED] = "halted", [NODE_DEAD] = "dead",
};

const char *node_state_name(uint32_t state)
{
	return state < ARRAY_SIZE(state_names) ? state_names[state] : "unknown";
}

static uint64_t now_ms(void)
{
	return arch_time_ns() / 1000000;
}

static bool zero(const volatile void *p, uint64_t n)
{
	const volatile uint8_t *b = p;

	for (uint64_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Translation granularity from xlate=4k|2m (the formatter's choice). */
static uint32_t gshift_arg(void)
{
	char v[8];

	if (cmdline_get("xlate", v, sizeof(v)) && !strcmp(v, "2m"))
		return 9;
	return 0;
}

/* Lay the control state out for a pool of `size` bytes (pool_layout) and format it. */
static int format(volatile struct pool_super *sb, uint64_t size)
{
	uint8_t *base = (uint8_t *)sb;
	uint64_t region = (uint64_t)cmdline_long("region", REGION_SIZE >> 20) << 20;
	struct palloc_geom pg;
	struct xlate_geom xg;
	int err;

	if (region < (2UL << 20) || (region & (region - 1)))
		region = REGION_SIZE;
	err = pool_layout(sb, size, self.nodes, gshift_arg(), region);
	if (err)
		return err;
	sb->dead_after_ms = cmdline_long("dead_after", DEAD_AFTER_MS);
	pg = (struct palloc_geom){ sb->npages, POOL_CHUNK_PAGES, MAX_NODES };
	xg = (struct xlate_geom){ sb->npages, sb->gshift, sb->region_pages };

	memset(base + PAGE_SIZE, 0, sb->data_off - PAGE_SIZE);
	if (ring_mesh_format(base + sb->ring_off, self.nodes, POOL_RING_SLOTS) ||
	    xlate_format(base + sb->xlate_off, &xg) ||
	    /* poolzero=1: the launcher made the pool file sparse: all zeros */
	    palloc_format(base + sb->palloc_off, &pg, cmdline_long("poolzero", 0) == 1) ||
	    pcache_format(base + sb->pcache_off, sb->pcache_nsets) ||
	    vip_format_pool(base + sb->port_off))
		return -EINVAL;
	sb->version = POOL_VERSION;
	sb->expected_nodes = self.nodes;
	for (int i = 0; i < CLUSTER_ID_MAX; i++)
		sb->cluster_id[i] = self.cluster[i];
	arch_pool_flush(sb, sb->data_off);
	__atomic_store_n(&sb->magic, POOL_MAGIC, __ATOMIC_RELEASE);
	arch_pool_flush(&sb->magic, sizeof(sb->magic));
	printk("node %d: pool: formatted %lu MiB for cluster '%s': %lu pages of data in %lu regions "
	       "of %lu MiB, translation at %s granularity, %u-slot rings, a page cache of %u sets\n",
	       self.id, size >> 20, self.cluster, sb->npages,
	       (sb->npages + sb->region_pages - 1) / sb->region_pages, sb->region_size >> 20,
	       sb->gshift ? "2 MiB" : "4 KiB", POOL_RING_SLOTS, sb->pcache_nsets);
	return 0;
}

/*
 * Check a formatted pool: sound (every invariant of kernel/cluster/poolcheck.h,
 * which `dmos pool` checks too), and one this node can join. Return: NULL or
 * what is wrong.
 */
static const char *check(volatile struct pool_super *sb, uint64_t size, char *why, size_t n)
{
	char cid[CLUSTER_ID_MAX];

	if (poolcheck((const void *)sb, size, why, n))
		return why;
	for (int i = 0; i < CLUSTER_ID_MAX; i++)
		cid[i] = sb->cluster_id[i];
	cid[CLUSTER_ID_MAX - 1] = 0;
	if (strcmp(cid, self.cluster)) {
		snprintf(why, n, "pool belongs to cluster '%s', this node is in cluster '%s'",
			 cid, self.cluster);
		return why;
	}
	if (sb->max_nodes != MAX_NODES) {
		snprintf(why, n, "pool has a node table of %u nodes, this kernel's has %u",
			 sb->max_nodes, MAX_NODES);
		return why;
	}
	return NULL;
}

int pool_attach(void *base, uint64_t size)
{
	volatile struct pool_super *sb = base;
	char why[256];
	const char *bad = NULL;

	if (size < POOL_MIN_SIZE) {
		printk("node %d: pool refused: %lu KiB is smaller than the minimum %lu KiB\n",
		       self.id, size >> 10, POOL_MIN_SIZE >> 10);
		return -EINVAL;
	}
	uint64_t start = now_ms();
	for (;;) {
		uint64_t magic = __atomic_load_n(&sb->magic, __ATOMIC_ACQUIRE);
		if (magic != 0) {
			bad = check(sb, size, why, sizeof(why));
			break;
		}
		uint32_t claim = __atomic_load_n(&sb->format_claim, __ATOMIC_ACQUIRE);
		if (claim == 0) {
			if (!zero((uint8_t *)sb + 16, PAGE_SIZE - 16) || sb->version) {
				if (__atomic_load_n(&sb->format_claim, __ATOMIC_ACQUIRE))
					continue;       /* claimed and being written meanwhile */
				bad = "damaged pool: no magic, but the superblock is not empty";
				break;
			}
			uint32_t want = 0;
			if (__atomic_compare_exchange_n(&sb->format_claim, &want, (uint32_t)self.id + 1,
							false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
			    format(sb, size)) {
				bad = "too small to hold the pool's control state and data";
				break;
			}
			continue;
		}
		if (now_ms() - start > FORMAT_WAIT_MS) {
			snprintf(why, sizeof(why), "node %u claimed the pool for formatting and did not finish in %d ms",
				 claim - 1, FORMAT_WAIT_MS);
			bad = why;
			break;
		}
		arch_idle();
	}
	if (bad) {
		printk("node %d: pool refused: %s\n", self.id, bad);
		return -EINVAL;
	}
	static struct palloc pa;
	uint8_t *b = base;
	pool.super = sb;
	pool.nodes = (volatile struct pool_node *)(b + sb->node_table_off);
	pool.size = size;
	if (sb->expected_nodes != (uint32_t)self.nodes) {
		printk("node %d: pool refused: formatted for %u nodes, this node expects %d\n",
		       self.id, sb->expected_nodes, self.nodes);
		return -EINVAL;
	}
	if (palloc_attach(&pa, b + sb->palloc_off, self.id, xlate_usable, b + sb->xlate_off)) {
		printk("node %d: pool refused: its page allocator is damaged\n", self.id);
		return -EINVAL;
	}
	pool.palloc = &pa;
	return 0;
}

struct lease *pool_lease(uint32_t i)
{
	if (!leases || i >= pool.super->nleases)
		return NULL;
	return (struct lease *)(leases + 64 * (uint64_t)i);
}

/*
 * Hand every area past the node table to its owner (see pool.h), once the
 * pool at window base, bus address pa, is attached.
 */
static void attach_areas(uint8_t *base, uint64_t pa)
{
	volatile struct pool_super *sb = pool.super;

	leases = base + sb->lease_off;
	msg_attach_pool(base + sb->ring_off);
	seg_attach_pool(base + sb->seg_off);
	futex_attach_pool(base + sb->futex_off);
	remote_attach_pool(base + sb->proc_off);
	clusterlk_attach_pool(base + sb->lock_off);
	pmem_attach_pool(base + sb->xlate_off, base + sb->data_off, pa + sb->data_off);
	dmosfs_attach_pool(base + sb->pcache_off);
	vip_attach_pool(base + sb->port_off);
}

int pool_join(void)
{
	volatile struct pool_node *me = &pool.nodes[self.id];

	for (;;) {
		uint32_t st = __atomic_load_n(&me->state, __ATOMIC_ACQUIRE);
		if (st == NODE_UP || st == NODE_JOINING) {
			/* someone holds the slot: take it only if its heart has stopped */
			uint64_t hb = __atomic_load_n(&me->heartbeat, __ATOMIC_ACQUIRE);
			uint64_t t = now_ms();
			while (now_ms() - t < TAKEOVER_WAIT_MS)
				arch_idle();
			if (__atomic_load_n(&me->heartbeat, __ATOMIC_ACQUIRE) != hb) {
				printk("node %d: pool refused: node id %d is already taken by a live node\n",
				       self.id, self.id);
				return -EBUSY;
			}
		}
		if (__atomic_compare_exchange_n(&me->state, &st, NODE_JOINING, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	uint64_t epoch = __atomic_add_fetch(&me->epoch, 1, __ATOMIC_ACQ_REL);
	me->node_id = self.id;
	me->local_mem = self.local_mem;
	me->doorbell = pool.doorbell;
	me->dead_by = 0;
	__atomic_store_n(&me->state, NODE_UP, __ATOMIC_RELEASE);
	arch_pool_flush(me, sizeof(*me));
	pool.joined = true;
	printk("node %d: joined cluster '%s' (epoch %lu, ivshmem peer %d)\n", self.id, self.cluster,
	       epoch, pool.doorbell);
	return 0;
}

void pool_heartbeat(void)
{
	if (!pool.joined)
		return;
	volatile struct pool_node *me = &pool.nodes[self.id];
	__atomic_add_fetch(&me->heartbeat, 1, __ATOMIC_RELEASE);
	arch_pool_flush(&me->heartbeat, sizeof(me->heartbeat));
}

void pool_mark_halted(void)
{
	if (!pool.joined)
		return;
	pool.joined = false;
	__atomic_store_n(&pool.nodes[self.id].state, NODE_HALTED, __ATOMIC_RELEASE);
	arch_pool_flush(&pool.nodes[self.id], sizeof(struct pool_node));
}

int pool_init(void)
{
	struct pci_dev *d = pci_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE);
	uint64_t pa, size;

	if (!d) {
		printk("node %d: no pool: no ivshmem device (1af4:1110) found\n", self.id);
		return -ENOENT;
	}
	if (pci_bar(d, 2, &pa, &size) || !pa) {
		printk("node %d: no pool: ivshmem BAR2 is not an assigned memory BAR\n", self.id);
		return -EIO;
	}
	void *base = arch_map_pool(pa, size);
	printk("node %d: pool: %lu MiB at bus address 0x%lx, window %p\n",
	       self.id, size >> 20, pa, base);
	int err = pool_attach(base, size);
	if (err)
		return err;
	attach_areas(base, pa);
	pool.doorbell = doorbell_init(d);
	printk("node %d: doorbell: %s\n", self.id, pool.doorbell >= 0 ?
	       "ivshmem MSI-X" : "none, rings are polled at every tick (1 kHz)");
	return pool_join();
}

/* kernel/cluster/poolsys.h, for code that lives on pool memory */
void pool_flush(const volatile void *p, size_t n) { arch_pool_flush(p, n); }
uint64_t pool_now_ns(void) { return arch_time_ns(); }
void pool_relax(void) { arch_cpu_relax(); }
