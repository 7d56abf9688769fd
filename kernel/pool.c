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
#include "kernel/pool.h"
#include "kernel/pci.h"
#include "kernel/poolsys.h"
#include "arch/arch.h"

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

struct pool pool;

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

static void format(volatile struct pool_super *sb, uint64_t size)
{
	uint64_t table = PAGE_SIZE;
	uint64_t data = table + MAX_NODES * sizeof(struct pool_node);

	data = (data + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	memset((void *)((uintptr_t)sb + table), 0, data - table);
	sb->version = POOL_VERSION;
	sb->pool_size = size;
	sb->region_size = MIN(REGION_SIZE, size);
	sb->max_nodes = MAX_NODES;
	sb->expected_nodes = self.nodes;
	for (int i = 0; i < CLUSTER_ID_MAX; i++)
		sb->cluster_id[i] = self.cluster[i];
	sb->node_table_off = table;
	sb->data_off = data;
	arch_pool_flush(sb, data);
	__atomic_store_n(&sb->magic, POOL_MAGIC, __ATOMIC_RELEASE);
	arch_pool_flush(&sb->magic, sizeof(sb->magic));
	printk("node %d: pool: formatted %lu MiB for cluster '%s' (%u node slots, data at 0x%lx)\n",
	       self.id, size >> 20, self.cluster, MAX_NODES, data);
}

/* Check a formatted superblock against this node. Return: NULL or what is wrong. */
static const char *check(volatile struct pool_super *sb, uint64_t size, char *why, size_t n)
{
	char cid[CLUSTER_ID_MAX];

	if (sb->version != POOL_VERSION) {
		snprintf(why, n, "pool format version %u, this kernel knows version %u",
			 sb->version, POOL_VERSION);
		return why;
	}
	if (sb->pool_size != size || sb->max_nodes != MAX_NODES ||
	    sb->node_table_off < sizeof(struct pool_super) ||
	    sb->node_table_off + MAX_NODES * sizeof(struct pool_node) > sb->data_off ||
	    sb->data_off >= size) {
		snprintf(why, n, "damaged pool geometry (size %lu, superblock says %lu, table 0x%lx, data 0x%lx)",
			 size, sb->pool_size, sb->node_table_off, sb->data_off);
		return why;
	}
	for (int i = 0; i < CLUSTER_ID_MAX; i++)
		cid[i] = sb->cluster_id[i];
	cid[CLUSTER_ID_MAX - 1] = 0;
	if (strcmp(cid, self.cluster)) {
		snprintf(why, n, "pool belongs to cluster '%s', this node is in cluster '%s'",
			 cid, self.cluster);
		return why;
	}
	return NULL;
}

int pool_attach(void *base, uint64_t size)
{
	volatile struct pool_super *sb = base;
	char why[160];
	const char *bad = NULL;

	if (size < POOL_MIN_SIZE) {
		printk("node %d: pool refused: %lu KiB is smaller than the minimum %lu KiB\n",
		       self.id, size >> 10, POOL_MIN_SIZE >> 10);
		return -EINVAL;
	}
	uint64_t start = now_ms();
	for (;;) {
		uint64_t magic = __atomic_load_n(&sb->magic, __ATOMIC_ACQUIRE);
		if (magic == POOL_MAGIC) {
			bad = check(sb, size, why, sizeof(why));
			break;
		}
		if (magic != 0) {
			snprintf(why, sizeof(why), "not a dmos pool (magic 0x%016lx)", magic);
			bad = why;
			break;
		}
		uint32_t claim = __atomic_load_n(&sb->format_claim, __ATOMIC_ACQUIRE);
		if (claim == 0) {
			if (!zero((uint8_t *)sb + 16, PAGE_SIZE - 16) || sb->version) {
				bad = "damaged pool: no magic, but the superblock is not empty";
				break;
			}
			uint32_t want = 0;
			if (__atomic_compare_exchange_n(&sb->format_claim, &want, (uint32_t)self.id + 1,
							false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				format(sb, size);
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
	pool.super = sb;
	pool.nodes = (volatile struct pool_node *)((uintptr_t)sb + sb->node_table_off);
	pool.size = size;
	return 0;
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
	__atomic_store_n(&me->state, NODE_UP, __ATOMIC_RELEASE);
	arch_pool_flush(me, sizeof(*me));
	pool.joined = true;
	printk("node %d: joined cluster '%s' (epoch %lu)\n", self.id, self.cluster, epoch);
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

/*
 * Write "0,1,2" for the nodes that have joined (joined == true) or the
 * expected ones that have not (joined == false). A node that joined and
 * then halted still counts as joined: the membership line is about who
 * came up, and a node that halts right after its own line must not leave
 * the others waiting.
 */
static int list_nodes(char *buf, size_t n, bool joined)
{
	int len = 0, count = 0;

	buf[0] = 0;
	for (int i = 0; i < MAX_NODES; i++) {
		uint32_t st = __atomic_load_n(&pool.nodes[i].state, __ATOMIC_ACQUIRE);
		bool in = st >= NODE_UP && __atomic_load_n(&pool.nodes[i].epoch, __ATOMIC_ACQUIRE);
		if (in != joined || (!joined && i >= self.nodes))
			continue;
		if ((size_t)len < n)
			len += snprintf(buf + len, n - len, count ? ",%d" : "%d", i);
		count++;
	}
	return count;
}

void pool_wait_cluster(void)
{
	char buf[256];
	uint64_t last = now_ms();

	for (;;) {
		int missing = list_nodes(buf, sizeof(buf), false);
		if (!missing)
			break;
		if (now_ms() - last >= JOIN_REPORT_MS) {
			printk("node %d: waiting for nodes %s (%d of %d up)\n",
			       self.id, buf, self.nodes - missing, self.nodes);
			last = now_ms();
		}
		arch_idle();
	}
	list_nodes(buf, sizeof(buf), true);
	printk("node %d: cluster up: nodes %s\n", self.id, buf);
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
	return err ? err : pool_join();
}

/* kernel/poolsys.h, for code that lives on pool memory */
void pool_flush(const volatile void *p, size_t n) { arch_pool_flush(p, n); }
uint64_t pool_now_ns(void) { return arch_time_ns(); }
void pool_relax(void) { arch_cpu_relax(); }
