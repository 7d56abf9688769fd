/*
 * The monitor's `blk` command: look at the shared disk and drive its driver
 * from a node's console, by hand or from the cluster tests
 * (tests/cluster/test_disk.py):
 *
 *   blk                              the disk, and what it has done so far
 *   blk write SECTOR COUNT WORD      fill COUNT sectors with WORD's pattern
 *   blk read SECTOR [COUNT [WORD]]   read them: their start, a hash, and with
 *                                    WORD whether they hold its pattern
 *   blk pool SECTOR WORD             read a page's worth into a pool page by its
 *                                    bus address (blk_io), as the page cache
 *                                    will, and check it holds WORD's pattern
 *   blk flush                        make the writes durable
 *   blk bench [MIB]                  write MIB MiB (default 32) from sector 0
 *                                    on, flush, read them back: MB/s
 *
 * Sector s of WORD's pattern is the text "WORD s\n" repeated over its 512
 * bytes, so a sector written to the wrong place is told apart, and a test
 * can compute the same bytes on the host from the image file. bench
 * overwrites the start of the disk. Every command ends with one line
 * `node N: blk...: ...`, like the rest of the monitor.
 */
#include "kernel/kernel.h"
#include "kernel/cluster/pool.h"
#include "fs/blk.h"
#include "mm/mm.h"
#include "mm/pmem.h"
#include "mm/xlate.h"
#include "sched/sched.h"
#include "arch/arch.h"

#define CMD_MAX_SECTORS 2048            /* read/write: 1 MiB at most */
#define BENCH_CHUNK     (1U << 20)      /* bench: bytes per blk_read/blk_write */
#define WORD_MAX        32

static bool parse_u64(const char *s, uint64_t *v)
{
	*v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || *v > (UINT64_MAX - 9) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	return true;
}

/* Sector `sector` of word's pattern, into p (BLK_SECTOR bytes). */
static void pattern(uint8_t *p, const char *word, uint64_t sector)
{
	char line[WORD_MAX + 24];
	int n = snprintf(line, sizeof(line), "%s %lu\n", word, sector);

	for (unsigned i = 0; i < BLK_SECTOR; i++)
		p[i] = (uint8_t)line[i % (unsigned)n];
}

/* First sector of buf (count sectors from sector on) that differs from word's pattern, or -1. */
static int64_t differs(const uint8_t *buf, const char *word, uint64_t sector, uint64_t count)
{
	uint8_t want[BLK_SECTOR];

	for (uint64_t i = 0; i < count; i++) {
		pattern(want, word, sector + i);
		if (memcmp(buf + i * BLK_SECTOR, want, BLK_SECTOR))
			return (int64_t)(sector + i);
	}
	return -1;
}

static uint64_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void show_disk(struct blk_dev *d)
{
	struct blk_stats st;

	blk_get_stats(d, &st);
	printk("node %d: blk: %lu sectors (%lu MiB)%s%s, %lu reads (%lu sectors), "
	       "%lu writes (%lu sectors), %lu flushes, %lu errors\n", self.id, blk_sectors(d),
	       blk_sectors(d) >> (20 - BLK_SECTOR_SHIFT), blk_read_only(d) ? ", read-only" : "",
	       blk_offline(d) ? ", OFFLINE" : "", st.reads, st.sectors_read, st.writes,
	       st.sectors_written, st.flushes, st.errors);
}

static void cmd_rw(struct blk_dev *d, bool write, uint64_t sector, uint64_t count, const char *word)
{
	const char *what = write ? "write" : "read";
	bool fits = count && count <= CMD_MAX_SECTORS;
	uint8_t *buf = fits ? kmalloc(count * BLK_SECTOR) : NULL;

	if (!buf) {
		printk("node %d: blk %s: COUNT is 1 to %d sectors%s\n", self.id, what,
		       CMD_MAX_SECTORS, fits ? " (no memory for them now)" : "");
		return;
	}
	for (uint64_t i = 0; write && i < count; i++)
		pattern(buf + i * BLK_SECTOR, word, sector + i);
	uint64_t t = arch_time_ns();
	int err = write ? blk_write(d, sector, count, buf) : blk_read(d, sector, count, buf);
	t = (arch_time_ns() - t) / 1000;
	if (err) {
		printk("node %d: blk %s: %lu sectors at %lu failed (%d)\n", self.id, what, count,
		       sector, err);
	} else if (write) {
		printk("node %d: blk write: %lu sectors at %lu (%s), %lu us\n", self.id, count,
		       sector, word, t);
	} else {
		char text[49];
		for (unsigned i = 0; i < sizeof(text) - 1; i++)
			text[i] = buf[i] >= ' ' && buf[i] < 127 ? (char)buf[i] : '.';
		text[sizeof(text) - 1] = 0;
		printk("  %s\n", text);
		int64_t bad = word ? differs(buf, word, sector, count) : -1;
		char verdict[WORD_MAX + 64] = "";
		if (word && bad < 0)
			snprintf(verdict, sizeof(verdict), ", pattern %s: matches", word);
		else if (word)
			snprintf(verdict, sizeof(verdict), ", pattern %s: differs at sector %ld",
				 word, bad);
		printk("node %d: blk read: %lu sectors at %lu, fnv %016lx, %lu us%s\n", self.id,
		       count, sector, fnv1a(buf, count * BLK_SECTOR), t, verdict);
	}
	kfree(buf);
}

/* One pool page filled from the disk straight by the device, then checked. */
static void cmd_pool(struct blk_dev *d, uint64_t sector, const char *word)
{
	uint64_t count = PAGE_SIZE / BLK_SECTOR, dfn;
	int64_t ppn = pool.joined ? pmem_alloc((uint32_t)proc_table()[0].pid) : -ENOMEM;

	if (ppn < 0) {
		printk("node %d: blk pool: no pool page to read into (%ld)\n", self.id, ppn);
		return;
	}
	volatile uint8_t *page = pmem_page((uint64_t)ppn);
	(void)page[0];                  /* mapped here, so a move would shoot us down */
	int err = xlate_resolve(pmem_xlate(), (uint64_t)ppn, &dfn);
	if (!err) {
		struct blk_seg seg = { pmem_frame_pa(dfn), PAGE_SIZE };
		err = blk_io(d, BLK_READ, sector, &seg, 1);
	}
	int64_t bad = err ? -1 : differs((const uint8_t *)page, word, sector, count);
	pmem_free((uint64_t)ppn);
	if (err)
		printk("node %d: blk pool: %lu sectors at %lu failed (%d)\n", self.id, count, sector,
		       err);
	else
		printk("node %d: blk pool: %lu sectors at %lu into pool page %ld (device frame %lu), "
		       "pattern %s: %s\n", self.id, count, sector, ppn, dfn, word,
		       bad < 0 ? "matches" : "differs");
}

static uint64_t mb_per_s(uint64_t bytes, uint64_t ns)
{
	return ns ? bytes * 1000 / ns : 0;      /* bytes/ns * 1000 = MB/s */
}

/* Time one blk_read/blk_write into *ns. Return: its result. */
static int timed(struct blk_dev *d, bool write, uint64_t sector, uint64_t count, uint8_t *buf,
		 uint64_t *ns)
{
	uint64_t t = arch_time_ns();
	int err = write ? blk_write(d, sector, count, buf) : blk_read(d, sector, count, buf);

	*ns += arch_time_ns() - t;
	return err;
}

/*
 * Write mib MiB from sector 0 on, flush, read back and check, 1 MiB a call.
 * Only the calls are timed: making and checking the patterns is not I/O.
 */
static void cmd_bench(struct blk_dev *d, uint64_t mib)
{
	uint64_t per = BENCH_CHUNK / BLK_SECTOR, tw = 0, tr = 0, tf;
	uint8_t *buf = kmalloc(BENCH_CHUNK);
	int err = 0;
	int64_t bad = -1;

	if (!buf || !mib || mib * per > blk_sectors(d)) {
		printk("node %d: blk bench: usage: blk bench MIB (1 to %lu, the disk's size)%s\n",
		       self.id, blk_sectors(d) / per, buf ? "" : "; no memory for it now");
		kfree(buf);
		return;
	}
	for (uint64_t c = 0; c < mib && !err; c++) {
		for (uint64_t i = 0; i < per; i++)
			pattern(buf + i * BLK_SECTOR, "bench", c * per + i);
		err = timed(d, true, c * per, per, buf, &tw);
	}
	tf = arch_time_ns();
	if (!err)
		err = blk_flush(d);
	tf = arch_time_ns() - tf;
	for (uint64_t c = 0; c < mib && !err && bad < 0; c++) {
		err = timed(d, false, c * per, per, buf, &tr);
		if (!err)
			bad = differs(buf, "bench", c * per, per);
	}
	kfree(buf);
	if (err || bad >= 0) {
		printk("node %d: blk bench: failed (%d)%s\n", self.id, err,
		       bad >= 0 ? ", data read back differs" : "");
		return;
	}
	printk("node %d: blk bench: %lu MiB written in %lu ms (%lu MB/s), flushed in %lu ms, "
	       "read back in %lu ms (%lu MB/s), data checked\n", self.id, mib, tw / 1000000,
	       mb_per_s(mib * BENCH_CHUNK, tw), tf / 1000000, tr / 1000000,
	       mb_per_s(mib * BENCH_CHUNK, tr));
}

void cmd_blk(char **argv, int argc)
{
	struct blk_dev *d = blk_disk();
	const char *op = argc > 1 ? argv[1] : "";
	uint64_t sector = 0, count = 1, mib = 32;

	if (!d) {
		printk("node %d: blk: this node has no disk\n", self.id);
	} else if (argc == 1) {
		show_disk(d);
	} else if (!strcmp(op, "write") && argc == 5 && parse_u64(argv[2], &sector) &&
		   parse_u64(argv[3], &count) && strlen(argv[4]) <= WORD_MAX) {
		cmd_rw(d, true, sector, count, argv[4]);
	} else if (!strcmp(op, "read") && argc >= 3 && argc <= 5 && parse_u64(argv[2], &sector) &&
		   (argc < 4 || parse_u64(argv[3], &count)) &&
		   (argc < 5 || strlen(argv[4]) <= WORD_MAX)) {
		cmd_rw(d, false, sector, count, argc == 5 ? argv[4] : NULL);
	} else if (!strcmp(op, "pool") && argc == 4 && parse_u64(argv[2], &sector) &&
		   strlen(argv[3]) <= WORD_MAX) {
		cmd_pool(d, sector, argv[3]);
	} else if (!strcmp(op, "flush") && argc == 2) {
		int err = blk_flush(d);
		printk("node %d: blk flush: %s (%d)\n", self.id, err ? "failed" : "done", err);
	} else if (!strcmp(op, "bench") && argc <= 3 && (argc < 3 || parse_u64(argv[2], &mib))) {
		cmd_bench(d, mib);
	} else {
		printk("node %d: blk: usage: blk | blk write SECTOR COUNT WORD | "
		       "blk read SECTOR [COUNT [WORD]] | blk pool SECTOR WORD | blk flush | "
		       "blk bench [MIB]\n", self.id);
	}
}
