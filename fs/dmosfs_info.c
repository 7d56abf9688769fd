/*
 * dmosfs's counters (published in the pool for the host, dm_fsinfo and
 * the monitor's `fs`) and what the failure of a pool region does to the
 * cache: clean pages dropped, dirty ones lost and their files marked
 * (fs/dmosfs.c's top comment is the overview; docs/fs.md the reasons).
 */
#include "kernel/kernel.h"
#include "fs/blk.h"
#include "fs/dmosfs.h"
#include "fs/dmosfs_int.h"
#include "sched/sched.h"

/* ---- counters ------------------------------------------------------------------------- */

/* This node's disk counters (zeros without a disk). */
static struct pcache_disk disk_counters(void)
{
	struct blk_stats bs;

	if (!blk_disk())
		return (struct pcache_disk){ 0 };
	blk_get_stats(blk_disk(), &bs);
	return (struct pcache_disk){ bs.reads, bs.sectors_read * BLK_SECTOR, bs.writes,
				     bs.sectors_written * BLK_SECTOR, bs.flushes, bs.errors };
}

/*
 * The disk's counters go into this node's entry of the page cache's
 * counters table (the cache keeps its own there as they move) every
 * second and at each fsinfo, so the host's `dmos pool` sees them at most
 * a second old, and a post-mortem what they were a second before the end.
 */
static void publish(void)
{
	struct pcache_disk d = disk_counters();

	pcache_publish(&dfs_pc, &d);
}

struct kwork dfs_publish_work = { .name = "fs counters", .fn = publish, .period_ms = 1000 };

static void fsinfo(struct dm_fsinfo *fi)
{
	struct pcache_disk d = disk_counters();

	*fi = (struct dm_fsinfo){ .mounted = dfs_vfs.root != NULL, .disk_reads = d.reads,
				  .disk_read_bytes = d.read_bytes, .disk_writes = d.writes,
				  .disk_write_bytes = d.write_bytes, .disk_flushes = d.flushes,
				  .disk_errors = d.errors };
	if (dfs_cache_ok) {
		pcache_publish(&dfs_pc, &d);        /* the pool says what this call says */
		fi->cache_sets = dfs_pc.nsets;
		fi->cache_hits = dfs_pc.st->hits;
		fi->cache_misses = dfs_pc.st->misses;
		fi->cache_fills = dfs_pc.st->fills;
		fi->cache_fill_waits = dfs_pc.st->fill_waits;
		fi->cache_evictions = dfs_pc.st->evictions;
		fi->cache_writebacks = dfs_pc.st->writebacks;
		fi->cache_lost = dfs_pc.st->lost;
	}
}

int64_t sys_fsinfo(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	struct dm_fsinfo fi;

	(void)b, (void)c, (void)d, (void)e, (void)f;
	fsinfo(&fi);
	return copy_to_user(&current->vm, a, &fi, sizeof(fi));
}

void cmd_fs(char **argv, int argc)
{
	struct dm_fsinfo fi;

	(void)argv;
	(void)argc;
	fsinfo(&fi);
	if (dfs_cache_ok)
		pcache_scan(&dfs_pc);
	printk("  disk: %lu reads (%lu KiB), %lu writes (%lu KiB), %lu flushes, %lu errors\n",
	       fi.disk_reads, fi.disk_read_bytes >> 10, fi.disk_writes, fi.disk_write_bytes >> 10,
	       fi.disk_flushes, fi.disk_errors);
	printk("  cache: %lu hits, %lu misses, %lu fills, %lu fill waits, %lu evictions, "
	       "%lu writebacks, %lu lost\n", fi.cache_hits, fi.cache_misses, fi.cache_fills,
	       fi.cache_fill_waits, fi.cache_evictions, fi.cache_writebacks, fi.cache_lost);
	if (dfs_cache_ok)
		printk("  pool: %u sets of %u slots, %lu valid pages, %lu dirty\n", dfs_pc.nsets,
		       PCACHE_WAYS, dfs_pc.valid, dfs_pc.dirty);
	printk("node %d: fs: dmosfs %s\n", self.id, !fi.mounted ? "not mounted" :
	       dmosfs_is_root() ? "at /" : "at " DMOSFS_MOUNT);
}

/* ---- region failure ------------------------------------------------------------------ */

#define LOST_WAIT_MS    1               /* wait this long for a slot's holder or pinner */
#define LOST_INOS       8               /* inodes the console line names */

/* What the passes over the cache for the failures being handled did. */
static struct lost_scan {
	bool (*lost)(void *ctx, uint64_t ppn);
	void *ctx;
	uint32_t at;                    /* the slot the last lost frame was found in */
	uint32_t let_go;                /* frames this node let go of, clean and dirty */
	uint32_t dirty;                 /* of them, dirty pages now lost */
	uint32_t ino[LOST_INOS], nino;  /* the inodes of those */
	bool more_inos;                 /* and others */
} scan;

/*
 * pcache_lost's question, answered by mm's lost(); on the way, when the
 * slot holding a lost frame is BUSY by this node (without the writeback
 * bit: pcache_lost's own hold, right before it lets the frame go), what it
 * holds is counted, so the console line says what this node did.
 */
static bool lost_frame(void *arg, uint64_t ppn)
{
	struct lost_scan *s = arg;
	uint32_t nslots = dfs_pc.nsets * PCACHE_WAYS;

	if (!s->lost(s->ctx, ppn))
		return false;
	for (uint32_t k = 0; k < nslots; k++) {
		uint32_t i = (s->at + k) % nslots, ino, j;
		uint64_t v;

		if (__atomic_load_n(&dfs_pc.frames[i], __ATOMIC_ACQUIRE) != (PCACHE_FRAME_PAGE | ppn))
			continue;
		s->at = i;
		v = __atomic_load_n(&dfs_pc.slots[i], __ATOMIC_ACQUIRE);
		if (PCACHE_STATE(v) != PCACHE_BUSY || PCACHE_OWNER(v) != (unsigned)self.id ||
		    (v & PCACHE_LOST))
			break;
		s->let_go++;
		ino = PCACHE_TAG_INO(PCACHE_TAG_OF(v));
		if (!(v & PCACHE_DIRTY) || !ino)
			break;
		for (j = 0; j < s->nino && s->ino[j] != ino; j++)
			;
		if (j == s->nino && s->nino < LOST_INOS)
			s->ino[s->nino++] = ino;
		else if (j == s->nino)
			s->more_inos = true;
		break;
	}
	return true;
}

uint32_t dmosfs_region_lost(bool (*lost)(void *ctx, uint64_t ppn), void *ctx, bool last)
{
	uint32_t nslots, left = 0, wait = dfs_pc.wait_ms;
	char inos[LOST_INOS * 11 + 16];
	size_t len = 0;

	if (!dfs_cache_ok)
		return 0;
	nslots = dfs_pc.nsets * PCACHE_WAYS;
	scan.lost = lost;
	scan.ctx = ctx;
	/* the kernel thread waits for nobody: whoever holds a slot now is left for the next pass */
	dfs_pc.wait_ms = LOST_WAIT_MS;
	if (!dfs_private)             /* a private cache's frames are local: nothing lost */
		scan.dirty += pcache_lost(&dfs_pc, lost_frame, &scan);
	dfs_pc.wait_ms = wait;
	for (uint32_t i = 0; i < nslots && !dfs_private; i++) {
		uint64_t f = __atomic_load_n(&dfs_pc.frames[i], __ATOMIC_ACQUIRE);

		left += (f & PCACHE_FRAME_PAGE) && lost(ctx, PCACHE_FRAME_PPN(f));
	}
	if (left && !last)
		return left;
	for (uint32_t k = 0; k < scan.nino; k++)
		len += (size_t)snprintf(inos + len, sizeof(inos) - len, "%s%u", k ? ", " : "",
					scan.ino[k]);
	if (scan.more_inos)
		snprintf(inos + len, sizeof(inos) - len, " and more");
	if (!scan.nino)
		snprintf(inos, sizeof(inos), "not known");
	if (scan.dirty)
		printk("node %d: fs: region failure: %u clean page cache pages dropped (read again "
		       "from the disk), %u dirty pages lost (inode%s %s): their files say EIO\n",
		       self.id, scan.let_go > scan.dirty ? scan.let_go - scan.dirty : 0, scan.dirty,
		       scan.nino == 1 ? "" : "s", inos);
	else
		printk("node %d: fs: region failure: %u clean page cache pages dropped (read again "
		       "from the disk), no dirty page lost\n", self.id, scan.let_go);
	if (left)
		printk("node %d: fs: region failure: %u page cache slots with lost pages stayed "
		       "held by live nodes\n", self.id, left);
	scan = (struct lost_scan){ 0 };
	return left;
}
