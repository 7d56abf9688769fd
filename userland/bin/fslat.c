/*
 * fslat: how soon a write on one node is seen by a read on another, through
 * the cluster file system: the time from pwrite returning on this node until
 * a reader on another node, polling the same 16 bytes of the same file
 * (pread, dm_yield between), reads the new record. Run by the fs-latency
 * benchmark (bench/run.py).
 *
 *   fslat FILE N [NODE]     N writes here (1..10000), the reader on NODE
 *                           (default: the cluster's last node); one
 *                           "fslat: FILE: ..." summary line and one line of
 *                           every delay, exit 0 only if all went well
 *   fslat --reader FILE SEG the reader, started by the writer with dm_spawn
 *
 * The clock. Each side timestamps with its own node's clock, so the two
 * must be put on one time line. dm_time_ns will not do: a node's wall clock
 * is the RTC's second at boot plus its TSC clock since, so two nodes' wall
 * clocks disagree by up to a second however close the hosts' clocks are.
 * dm_now_ns (each node's TSC since its boot) has no common origin either, and
 * its rate is calibrated to 1% per node against the PIT, so two nodes' clocks
 * also drift apart by up to 10 ms a second. fslat therefore measures the
 * offset between the two nodes' dm_now_ns itself, through a shared segment
 * (pool memory: a store on one node, a load on the other, no file system
 * involved): the writer notes t1, asks, the reader answers with its own
 * time tr, the writer notes t2; tr - (t1 + t2) / 2 is the offset, wrong by
 * at most (t2 - t1) / 2, and the exchange with the shortest round trip of
 * SYNC_ROUNDS is kept. It does so right before each write and right after
 * the reader saw it, and takes the offset at the moment of the write
 * between the two, so drift between the clocks cancels out.
 *
 * Write k goes in lock step: sync; the writer tells the reader to watch for
 * record k and waits until it does (the reader is then polling); pwrite of
 * record k ("fslat %9u\n", 16 bytes at offset 0), t_k = dm_now_ns() when it
 * returns; the reader's first pread that shows record k stamps t_seen and
 * says so in the segment; sync. The delay is t_seen on the writer's clock
 * minus t_k: it includes up to one poll period of the reader (printed too),
 * and it is negative when the reader saw the bytes before the writer's
 * pwrite had returned; the same from the moment pwrite was called is
 * printed too. A pread showing neither the old record nor the new one
 * (bytes of both) counts as torn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dm.h"

#define REC             16
#define MAX_WRITES      10000
#define SYNC_ROUNDS     16
#define STEP_TIMEOUT_NS 30000000000ULL  /* the other side answers within 30 s */
#define GAP_NS          2000000ULL      /* between one write and the next */
#define SEG_BYTES       4096UL

struct fslat {
	/* the clock exchange: the writer bumps ping, the reader stamps tr, then pong = ping */
	uint32_t ping, pong;
	uint64_t tr;
	uint8_t pad0[48];
	/* the writes */
	uint32_t want;          /* writer: the record to watch for */
	uint32_t watching;      /* reader: = want once it polls for it */
	uint32_t seen;          /* reader: = want once a pread showed it; t_seen first */
	uint32_t quit;          /* writer: done, or given up */
	uint64_t t_seen;        /* reader's clock when it saw record `seen` */
	uint64_t polls;         /* reader: preads that followed one for the same record, */
	uint64_t poll_ns;       /* and the time from the one before: its poll period */
	uint64_t torn;          /* reader: preads that showed bytes of two records */
	uint32_t ready;         /* reader: attached, FILE open */
	uint32_t failed;        /* reader: a pread failed */
};

static uint32_t get(const uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static void put(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
}

/* Spin until *w == v; 0, or -1 after STEP_TIMEOUT_NS (the other side is gone). */
static int await(const uint32_t *w, uint32_t v)
{
	uint64_t until = dm_now_ns() + STEP_TIMEOUT_NS;

	for (uint32_t i = 0; get(w) != v; i++)
		if (!(i & 1023) && dm_now_ns() > until)
			return -1;
	return 0;
}

static void record(char *rec, uint32_t k)
{
	char tmp[REC + 1];

	snprintf(tmp, sizeof(tmp), "fslat %9u\n", k);
	memcpy(rec, tmp, REC);
}

/* The sequence number of a record, or -1 if it is not one (torn). */
static long parse(const char *rec)
{
	long v = 0;
	int i = 6;

	if (memcmp(rec, "fslat ", 6) || rec[REC - 1] != '\n')
		return -1;
	while (i < REC - 2 && rec[i] == ' ')    /* "%9u": spaces, then one digit at least */
		i++;
	for (; i < REC - 1; i++) {
		if (rec[i] < '0' || rec[i] > '9')
			return -1;
		v = v * 10 + (rec[i] - '0');
	}
	return v;
}

/* ---- the reader ------------------------------------------------------------ */

static int reader(const char *path, const char *name)
{
	struct fslat *s = seg_attach(name, 0);
	char rec[REC];
	uint64_t idle_since = dm_now_ns(), last = 0;
	uint32_t last_want = 0;
	int fd;

	if (!s) {
		printf("fslat: reader: seg_attach %s: %s\n", name, strerror(errno));
		return 1;
	}
	if ((fd = open(path, O_RDONLY)) < 0) {
		printf("fslat: reader: %s: %s\n", path, strerror(errno));
		return 1;
	}
	put(&s->ready, 1);
	while (!get(&s->quit)) {
		uint32_t ping = get(&s->ping), want;

		if (ping != s->pong) {
			s->tr = dm_now_ns();
			put(&s->pong, ping);
			idle_since = s->tr;
			continue;
		}
		want = get(&s->want);
		if (want != s->watching)
			put(&s->watching, want);
		if (s->seen != want) {
			uint64_t t0 = dm_now_ns();
			ssize_t n = pread(fd, rec, REC, 0);
			uint64_t t1 = dm_now_ns();
			long k = n == REC ? parse(rec) : -1;

			if (n < 0) {
				printf("fslat: reader: pread %s: %s\n", path, strerror(errno));
				put(&s->failed, 1);
				return 1;
			}
			if (last_want == want) {
				s->polls++;
				s->poll_ns += t0 - last;
			}
			last = t0;
			last_want = want;
			if (k == (long)want) {
				s->t_seen = t1;
				put(&s->seen, want);
			} else if (k != (long)want - 1) {
				s->torn++;
			}
			idle_since = t1;
		} else if (dm_now_ns() - idle_since > STEP_TIMEOUT_NS) {
			printf("fslat: reader: the writer went quiet\n");
			return 1;
		}
		dm_yield();
	}
	close(fd);
	seg_detach(s);
	return 0;
}

/* ---- the writer ------------------------------------------------------------ */

struct sync {
	uint64_t mid;           /* the writer's time of the best exchange's middle */
	int64_t offset;         /* reader's clock - writer's clock */
	uint64_t rtt;           /* its round trip */
};

/* The best of SYNC_ROUNDS clock exchanges with the reader; -1 if it stopped answering. */
static int sync_clocks(struct fslat *s, struct sync *out)
{
	out->rtt = ~0ULL;
	for (int i = 0; i < SYNC_ROUNDS; i++) {
		uint32_t token = s->ping + 1;
		uint64_t t1 = dm_now_ns(), t2;

		put(&s->ping, token);
		if (await(&s->pong, token))
			return -1;
		t2 = dm_now_ns();
		if (t2 - t1 < out->rtt) {
			out->rtt = t2 - t1;
			out->mid = t1 + (t2 - t1) / 2;
			out->offset = (int64_t)(s->tr - out->mid);
		}
	}
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of n sorted values. */
static int64_t pct(const int64_t *v, int n, int p)
{
	int rank = (p * n + 99) / 100;

	return v[rank > 0 ? rank - 1 : 0];
}

static double us(int64_t ns)
{
	return (double)ns / 1000.0;
}

static int writer(const char *path, int n, int node)
{
	static int64_t delay[MAX_WRITES], sorted[MAX_WRITES], wtime[MAX_WRITES], fromcall[MAX_WRITES];
	static int64_t rtt[2 * MAX_WRITES];
	char name[DM_NAME_MAX], rec[REC];
	struct sync a, b, first;
	struct fslat *s;
	int fd, pid, st, err = 1, nrtt = 0;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0) {
		printf("fslat: %s: %s\n", path, strerror(errno));
		return 1;
	}
	record(rec, 0);
	if (pwrite(fd, rec, REC, 0) != REC) {
		printf("fslat: write %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(name, sizeof(name), "fslat%d", getpid());
	if (!(s = seg_create(name, SEG_BYTES, 0))) {
		printf("fslat: seg_create: %s\n", strerror(errno));
		return 1;
	}
	char *argv[] = { "fslat", "--reader", (char *)path, name, NULL };
	if ((pid = dm_spawn("fslat", argv, node)) < 0) {
		printf("fslat: dm_spawn on node %d: %s\n", node, strerror(errno));
		seg_detach(s);
		return 1;
	}
	if (await(&s->ready, 1)) {
		printf("fslat: the reader on node %d did not start (its console says why)\n", node);
		goto out;
	}
	if (sync_clocks(s, &a))
		goto gone;
	first = a;
	for (int k = 1; k <= n; k++) {
		put(&s->want, (uint32_t)k);
		if (await(&s->watching, (uint32_t)k))
			goto gone;
		record(rec, (uint32_t)k);
		uint64_t t0 = dm_now_ns();
		if (pwrite(fd, rec, REC, 0) != REC) {
			printf("fslat: write %s: %s\n", path, strerror(errno));
			goto out;
		}
		uint64_t tk = dm_now_ns();
		if (await(&s->seen, (uint32_t)k) || sync_clocks(s, &b))
			goto gone;
		/* the offset at tk, on the line from the sync before to the sync after */
		double off = (double)a.offset + (double)(b.offset - a.offset) *
			(double)(int64_t)(tk - a.mid) / (double)(b.mid - a.mid);
		delay[k - 1] = (int64_t)((double)s->t_seen - off) - (int64_t)tk;
		wtime[k - 1] = (int64_t)(tk - t0);
		fromcall[k - 1] = delay[k - 1] + wtime[k - 1];
		rtt[nrtt++] = (int64_t)a.rtt;
		a = b;
		dm_sleep_ns(GAP_NS);
	}
	rtt[nrtt++] = (int64_t)a.rtt;
	if (get(&s->failed))
		goto out;

	memcpy(sorted, delay, sizeof(delay[0]) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_i64);
	qsort(wtime, (size_t)n, sizeof(wtime[0]), cmp_i64);
	qsort(fromcall, (size_t)n, sizeof(fromcall[0]), cmp_i64);
	qsort(rtt, (size_t)nrtt, sizeof(rtt[0]), cmp_i64);
	double span = (double)(a.mid - first.mid);
	printf("fslat: %s: %d writes on node %d, read on node %d: delay median %.1f us, p90 %.1f us, "
	       "min %.1f us, max %.1f us; from the pwrite call median %.1f us, p90 %.1f us; "
	       "pwrite median %.1f us; reader polls every %.1f us; "
	       "clock sync rtt median %.1f us, offset %+.1f us, drift %+.0f ppm; %llu torn reads\n",
	       path, n, dm_node(), node, us(pct(sorted, n, 50)), us(pct(sorted, n, 90)),
	       us(sorted[0]), us(sorted[n - 1]), us(pct(fromcall, n, 50)), us(pct(fromcall, n, 90)),
	       us(pct(wtime, n, 50)),
	       s->polls ? us((int64_t)(s->poll_ns / s->polls)) : 0.0,
	       us(pct(rtt, nrtt, 50)), us(first.offset),
	       span > 0 ? (double)(a.offset - first.offset) / span * 1e6 : 0.0,
	       (unsigned long long)s->torn);
	printf("fslat: delays us:");
	for (int k = 0; k < n; k++)
		printf(" %.1f", us(delay[k]));
	printf("\n");
	err = 0;
	goto out;
gone:
	printf("fslat: the reader on node %d stopped answering\n", node);
out:
	put(&s->quit, 1);
	if (dm_wait(pid, &st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		err = 1;
	seg_detach(s);
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	struct dm_nodeinfo ni;
	char *end;
	long n, node;

	if (argc == 4 && !strcmp(argv[1], "--reader"))
		return reader(argv[2], argv[3]);
	if (dm_nodeinfo(&ni) < 0) {
		printf("fslat: nodeinfo: %s\n", strerror(errno));
		return 1;
	}
	if (argc == 3 || argc == 4) {
		n = strtol(argv[2], &end, 10);
		if (*end || n < 1 || n > MAX_WRITES)
			n = -1;
		node = argc == 4 ? strtol(argv[3], &end, 10) : ni.nodes - 1;
		if (argc == 4 && (*end || !*argv[3]))
			node = -1;
		if (n > 0 && node >= 0 && node < ni.nodes) {
			if (node == ni.node)
				printf("fslat: the reader runs on this node: the same node's latency\n");
			return writer(argv[1], (int)n, (int)node);
		}
	}
	printf("usage: fslat FILE N [NODE]    (N 1..%d, NODE 0..%d)\n", MAX_WRITES, ni.nodes - 1);
	return 2;
}
