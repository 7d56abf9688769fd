/*
 * kvd: a small key-value server for dmos whose store is a shared segment
 * in the pool. Every kvd, on every node, attaches the same named segment
 * (the first one creates it), so every node behind the cluster IP serves
 * the same data, and the data lives as long as one kvd has it attached.
 * One process, one thread, an event loop over poll() (srv.h); portable
 * POSIX, so it also builds against glibc on the host, where
 * userland/test/dmhost.c maps the segment to a shared file.
 *
 *   kvd [-p PORT] [-s NAME] [-g GROUPS] [-c CONNS] [-t SECS]
 *     -p PORT    port to listen on (default 6379, Redis's)
 *     -s NAME    the segment (default "kvd"); kvds with the same NAME share data
 *     -g GROUPS  groups of 32 slots when this kvd creates the segment, a power
 *                of two from 1 to 4096 (default 256: 8192 slots, 10.3 MiB);
 *                one that attaches takes what the segment has
 *     -c CONNS   clients at once, 1..1024 (default 256)
 *     -t SECS    a client idle this long is dropped, 1..86400 (default 300)
 *
 * The protocol, one command a line (LF or CR LF), one reply line each:
 *   SET key value    OK               value: the rest of the line, may hold
 *                                     spaces, may be empty
 *   GET key          VALUE value, or NOT_FOUND
 *   DEL key          OK, or NOT_FOUND
 *   STATS            STATS node N keys K slots S groups G clients C pid P
 *   QUIT             OK, then the server closes the connection
 *   anything else    ERROR message
 * Commands are case-insensitive. A key is 1..240 bytes with no space or
 * control byte; a value at most 1024 bytes with no control byte but tab.
 * A line over 4096 bytes is refused with "ERROR line too long" and
 * skipped up to its end; a new key whose two groups have no free slot is
 * "ERROR store full".
 *
 * The segment: a header page, then GROUPS groups of 32 slots. A key's
 * hash names two groups and a start slot; the key lives in one of the two
 * (kv_lookup), probing linearly inside it, so the two groups' locks cover
 * everything an operation touches.
 *
 * Locks across processes and nodes: each group has a lock word holding
 * the pid of its holder (0: free), taken with compare-and-swap (pool
 * memory is coherent across nodes), waited for by spinning and yielding.
 * pids are cluster-wide in dmos. A process can die holding one (killed,
 * or its node died), so a waiter checks the holder every 20 ms: it is dead
 * when kill(pid, 0) says there is no such process (ESRCH; EHOSTDOWN: its
 * node is down), or when the process with that pid is not a kvd (the pid
 * was reused after its node restarted). A pid reused by another kvd is
 * cleared by that kvd itself: at start it repairs every group whose lock
 * holds its own pid, since it cannot hold one yet. The waiter that takes
 * a dead holder's lock (one compare-and-swap: only one can) repairs the
 * group before using it, which writes make possible:
 *   SET: the new slot is written whole into the group's scratch slot,
 *   then intent = target + 1 is published, then the scratch is copied over
 *   the target slot, then intent = 0. Repair redoes the copy when intent
 *   is set, so a SET interrupted anywhere either happened or did not; a
 *   reader never sees half a value.
 *   DEL: one atomic store of the slot's state.
 *   The group's key count is recounted by repair.
 * Each repair prints one line ("kvd: group G repaired: pid P died holding it").
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "dm.h"
#include "srv.h"

#define PROG            "kvd"
#define KEY_MAX         240
#define VALUE_MAX       1024
#define SLOTS           32              /* per group */
#define LINE_MAX_BYTES  4096
#define IN_CAP          (LINE_MAX_BYTES + 1)
#define OUT_CAP         65536
#define REPLY_MAX       (VALUE_MAX + 64)        /* the longest reply line */
#define SEG_KEY         0x6b766431u     /* "kvd1": only kvds attach */
#define KV_MAGIC        0x31766b736f6d64ULL     /* "dmoskv1", written last by the creator */
#define KV_VERSION      1
#define CHECK_MS        20              /* a waiter looks at the holder this often */
#define PS_MAX          1024

enum { SLOT_EMPTY, SLOT_FULL, SLOT_TOMB };

struct kv_slot {
	uint32_t state;                 /* SLOT_* */
	uint16_t klen, vlen;
	uint64_t hash;
	char key[KEY_MAX];
	char value[VALUE_MAX];
};

struct kv_group {
	uint32_t lock;                  /* pid of the holder, 0: free */
	uint32_t intent;                /* 1 + the slot the scratch is being copied to, 0: none */
	uint32_t count;                 /* SLOT_FULL slots */
	uint32_t pad;
	uint64_t writes;
	uint64_t pad2;
	struct kv_slot scratch;
	struct kv_slot slot[SLOTS];
};

struct kv_head {
	uint64_t magic;
	uint32_t version, groups, slots, key_max, value_max, slot_bytes, group_bytes;
	int32_t creator_pid, creator_node;
	uint32_t pad;
	char pad_page[4096 - 48];
};

_Static_assert(sizeof(struct kv_slot) == 1280, "kv_slot layout is the segment's");
_Static_assert(sizeof(struct kv_group) % 8 == 0, "kv_group keeps 8-byte alignment");
_Static_assert(sizeof(struct kv_head) == 4096, "the header is one page");

struct client {
	int fd;
	uint64_t last_ms;
	char in[IN_CAP];
	size_t in_len;
	int skipping;                   /* dropping the rest of an overlong line */
	char out[OUT_CAP];
	size_t out_off, out_len;
	int close_after, peer_done;
};

static struct {
	struct kv_head *head;
	struct kv_group *groups;
	uint32_t ngroups;
	uint32_t self;                  /* our pid: what our lock words hold */
	char name[DM_NAME_MAX];         /* our program name as dm_ps() shows it */
	int node, idle_ms;
	uint64_t ops;
} kv;

static struct dm_proc ps[PS_MAX];

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const char *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= (unsigned char)*k++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Whether the process whose pid a lock word holds is gone: no such
 * process, its node down, or a pid reused by a program that is not kvd.
 */
static int holder_dead(uint32_t pid)
{
	int n;

	if (kill((pid_t)pid, 0) < 0) {
		if (errno == ESRCH)
			return 1;
#ifdef EHOSTDOWN
		if (errno == EHOSTDOWN)
			return 1;
#endif
		return 0;               /* EPERM (a host's other user) and the like: it exists */
	}
	if ((n = dm_ps(ps, PS_MAX)) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if ((uint32_t)ps[i].pid == pid)
			return ps[i].state == DM_PROC_ZOMBIE || strcmp(base_name(ps[i].name), kv.name);
	return 0;                       /* not in a list cut short: take it as alive */
}

/* Copy a slot's used bytes (its lengths, checked, say how many). */
static void slot_copy(struct kv_slot *to, const struct kv_slot *from)
{
	uint16_t kl = from->klen, vl = from->vlen;

	if (kl > KEY_MAX || vl > VALUE_MAX || from->state > SLOT_TOMB) {
		__atomic_store_n(&to->state, SLOT_TOMB, __ATOMIC_RELEASE);
		return;
	}
	memcpy(to->key, from->key, kl);
	memcpy(to->value, from->value, vl);
	to->klen = kl;
	to->vlen = vl;
	to->hash = from->hash;
	__atomic_store_n(&to->state, from->state, __ATOMIC_RELEASE);
}

/* All tombstones back to empty once a group holds no key: probes stop early again. */
static void group_sweep(struct kv_group *g)
{
	if (g->count)
		return;
	for (int i = 0; i < SLOTS; i++)
		__atomic_store_n(&g->slot[i].state, SLOT_EMPTY, __ATOMIC_RELAXED);
}

/* After taking the lock of a holder that died: finish its write, recount. */
static void group_repair(struct kv_group *g, uint32_t dead)
{
	uint32_t intent = __atomic_load_n(&g->intent, __ATOMIC_ACQUIRE), n = 0;

	if (intent && intent <= SLOTS)
		slot_copy(&g->slot[intent - 1], &g->scratch);
	__atomic_store_n(&g->intent, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < SLOTS; i++)
		n += g->slot[i].state == SLOT_FULL;
	g->count = n;
	group_sweep(g);
	printf(PROG ": group %u repaired: pid %u died holding it%s\n", (unsigned)(g - kv.groups),
	       (unsigned)dead, intent ? " (its SET redone)" : "");
}

static void group_lock(struct kv_group *g)
{
	uint64_t next = 0, since = 0;
	int warned = 0;

	for (unsigned spins = 0;; spins++) {
		uint32_t cur = 0;
		uint64_t now;

		if (__atomic_compare_exchange_n(&g->lock, &cur, kv.self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (spins < 200) {
			cpu_relax();
			continue;
		}
		dm_yield();             /* the holder may be on this node's one CPU */
		now = srv_now_ms();
		if (!next) {
			since = now;
			next = now + CHECK_MS;
			continue;
		}
		if (now < next)
			continue;
		next = now + CHECK_MS;
		cur = __atomic_load_n(&g->lock, __ATOMIC_RELAXED);
		if (cur && holder_dead(cur) &&
		    __atomic_compare_exchange_n(&g->lock, &cur, kv.self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			group_repair(g, cur);
			return;
		}
		if (!warned && now - since > 5000) {
			warned = 1;
			fprintf(stderr, PROG ": group %u held by live pid %u for 5 s, still waiting\n",
				(unsigned)(g - kv.groups), (unsigned)cur);
		}
	}
}

static void group_unlock(struct kv_group *g)
{
	__atomic_store_n(&g->lock, 0, __ATOMIC_RELEASE);
}

/*
 * Find key in its group g (locked). Return: its slot, or -1 with *room
 * the first slot a SET may take (-1: the group is full).
 */
static int group_find(struct kv_group *g, const char *key, size_t klen, uint64_t h, int *room)
{
	int start = (int)((h >> 32) % SLOTS);

	*room = -1;
	for (int i = 0; i < SLOTS; i++) {
		int j = (start + i) % SLOTS;
		struct kv_slot *s = &g->slot[j];
		if (s->state == SLOT_EMPTY) {
			if (*room < 0)
				*room = j;
			return -1;
		}
		if (s->state == SLOT_TOMB) {
			if (*room < 0)
				*room = j;
			continue;
		}
		if (s->hash == h && s->klen == klen && !memcmp(s->key, key, klen))
			return j;
	}
	return -1;
}

static struct kv_group *group_at(uint32_t i)
{
	return (struct kv_group *)((char *)kv.groups + (size_t)i * sizeof(struct kv_group));
}

/*
 * A key's place. Its hash names two groups (one when there is only one);
 * the key lives in one of them, and a new key goes to the one holding
 * fewer (two-choice hashing: groups fill evenly, so a SET finds the store
 * full only when about 93% of all slots are used, where one group per key
 * would at about 80%). Both groups are locked, in index order, so two
 * processes taking the same two never wait for each other in a cycle.
 */
struct where {
	struct kv_group *g[2];          /* locked; g[1] == g[0] with one group */
	struct kv_group *in;            /* the group holding the key, or NULL */
	int at;                         /* ... and its slot there */
	struct kv_group *room_g;        /* where a new key goes, NULL: both full */
	int room;
};

static void kv_lookup(const char *key, size_t klen, uint64_t h, struct where *w)
{
	uint32_t a = (uint32_t)h & (kv.ngroups - 1), b = (uint32_t)(h >> 16) & (kv.ngroups - 1);

	if (b == a)
		b = a ^ (kv.ngroups > 1);
	if (b < a) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	w->g[0] = group_at(a);
	w->g[1] = group_at(b);
	w->in = w->room_g = NULL;
	group_lock(w->g[0]);
	if (b != a)
		group_lock(w->g[1]);
	for (int i = 0; i < (b != a ? 2 : 1); i++) {
		struct kv_group *g = w->g[i];
		int room, at = group_find(g, key, klen, h, &room);
		if (at >= 0) {
			w->in = g;
			w->at = at;
		}
		if (room >= 0 && (!w->room_g || g->count < w->room_g->count)) {
			w->room_g = g;
			w->room = room;
		}
	}
}

static void kv_unlock(struct where *w)
{
	if (w->g[1] != w->g[0])
		group_unlock(w->g[1]);
	group_unlock(w->g[0]);
}

/* Return: 0, or -1 when the key is new and both its groups are full. */
static int kv_set(const char *key, size_t klen, const char *val, size_t vlen)
{
	uint64_t h = hash_key(key, klen);
	struct where w;
	struct kv_group *g;
	int at;

	kv_lookup(key, klen, h, &w);
	g = w.in ? w.in : w.room_g;
	at = w.in ? w.at : w.room;
	if (g) {
		struct kv_slot *s = &g->scratch;
		if (!w.in)
			g->count++;
		memcpy(s->key, key, klen);
		memcpy(s->value, val, vlen);
		s->klen = (uint16_t)klen;
		s->vlen = (uint16_t)vlen;
		s->hash = h;
		s->state = SLOT_FULL;
		__atomic_store_n(&g->intent, (uint32_t)at + 1, __ATOMIC_RELEASE);
		slot_copy(&g->slot[at], s);
		__atomic_store_n(&g->intent, 0, __ATOMIC_RELEASE);
		g->writes++;
	}
	kv_unlock(&w);
	return g ? 0 : -1;
}

/* The value of key into val (VALUE_MAX bytes). Return: its length, or -1: none. */
static int kv_get(const char *key, size_t klen, char *val)
{
	struct where w;
	int n = -1;

	kv_lookup(key, klen, hash_key(key, klen), &w);
	if (w.in) {
		n = w.in->slot[w.at].vlen;
		memcpy(val, w.in->slot[w.at].value, (size_t)n);
	}
	kv_unlock(&w);
	return n;
}

/* Return: 0, or -1 when there was no such key. */
static int kv_del(const char *key, size_t klen)
{
	struct where w;
	struct kv_group *g;

	kv_lookup(key, klen, hash_key(key, klen), &w);
	if ((g = w.in)) {
		__atomic_store_n(&g->slot[w.at].state, SLOT_TOMB, __ATOMIC_RELEASE);
		g->count--;
		g->writes++;
		group_sweep(g);
	}
	kv_unlock(&w);
	return g ? 0 : -1;
}

static uint64_t kv_keys(void)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < kv.ngroups; i++)
		n += __atomic_load_n(&group_at(i)->count, __ATOMIC_RELAXED);
	return n;
}

/* A reply line, with its LF; a line is handled only with REPLY_MAX bytes free for it. */
#define reply(c, ...) do { \
		srv_append((c)->out, &(c)->out_len, OUT_CAP - 1, __VA_ARGS__); \
		(c)->out[(c)->out_len++] = '\n'; \
	} while (0)

/* Whether key (n bytes) is a valid key; if not, say why to c. */
static int key_ok(struct client *c, const char *key, size_t n)
{
	if (!n) {
		reply(c, "ERROR empty key");
		return 0;
	}
	if (n > KEY_MAX) {
		reply(c, "ERROR key too long (max %d bytes)", KEY_MAX);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x21 || key[i] == 0x7f) {
			reply(c, "ERROR control byte in key");
			return 0;
		}
	return 1;
}

/* One command line (its LF and CR gone, NUL-terminated at len). */
static void command(struct client *c, char *line, size_t len)
{
	char *arg = memchr(line, ' ', len), val[VALUE_MAX];
	size_t cmdlen = arg ? (size_t)(arg - line) : len, alen = arg ? len - cmdlen - 1 : 0;
	int n;

	if (arg)
		arg++;
	if (memchr(line, 0, len)) {
		reply(c, "ERROR NUL byte in line");
		return;
	}
	kv.ops++;
	if (cmdlen == 3 && !strncasecmp(line, "SET", 3)) {
		char *sp = arg ? memchr(arg, ' ', alen) : NULL;
		size_t klen = sp ? (size_t)(sp - arg) : 0, vlen = sp ? alen - klen - 1 : 0;
		if (!sp) {
			reply(c, "ERROR usage: SET key value");
			return;
		}
		if (!key_ok(c, arg, klen))
			return;
		if (vlen > VALUE_MAX) {
			reply(c, "ERROR value too long (max %d bytes)", VALUE_MAX);
			return;
		}
		for (size_t i = 0; i < vlen; i++)
			if ((unsigned char)sp[1 + i] < 0x20 && sp[1 + i] != '\t') {
				reply(c, "ERROR control byte in value");
				return;
			}
		if (kv_set(arg, klen, sp + 1, vlen) < 0)
			reply(c, "ERROR store full");
		else
			reply(c, "OK");
	} else if (cmdlen == 3 && (!strncasecmp(line, "GET", 3) || !strncasecmp(line, "DEL", 3))) {
		int get = toupper((unsigned char)line[0]) == 'G';
		if (!arg || memchr(arg, ' ', alen)) {
			reply(c, get ? "ERROR usage: GET key" : "ERROR usage: DEL key");
			return;
		}
		if (!key_ok(c, arg, alen))
			return;
		if (!get)
			reply(c, kv_del(arg, alen) < 0 ? "NOT_FOUND" : "OK");
		else if ((n = kv_get(arg, alen, val)) < 0)
			reply(c, "NOT_FOUND");
		else
			reply(c, "VALUE %.*s", n, val);
	} else if ((cmdlen == 5 && !strncasecmp(line, "STATS", 5)) ||
		   (cmdlen == 4 && !strncasecmp(line, "QUIT", 4))) {
		if (arg) {
			reply(c, "ERROR usage: %.*s takes no argument", (int)cmdlen, line);
		} else if (cmdlen == 4) {
			reply(c, "OK");
			c->close_after = 1;
		} else {
			reply(c, "STATS node %d keys %llu slots %u groups %u clients %d pid %u",
			      kv.node, (unsigned long long)kv_keys(), kv.ngroups * SLOTS, kv.ngroups,
			      srv_open, (unsigned)kv.self);
		}
	} else {
		char shown[33];
		size_t k = 0;
		for (size_t i = 0; i < cmdlen && k < sizeof(shown) - 1; i++)
			shown[k++] = isprint((unsigned char)line[i]) ? line[i] : '?';
		shown[k] = 0;
		reply(c, "ERROR unknown command '%s'", shown);
	}
}

/* Handle the whole lines buffered, while there is room for their replies. */
static void process(struct client *c)
{
	size_t at = 0;

	while (!c->close_after && OUT_CAP - c->out_len >= REPLY_MAX + 1) {
		char *nl = memchr(c->in + at, '\n', c->in_len - at);
		size_t len;
		if (!nl) {
			if (c->in_len - at >= LINE_MAX_BYTES + 1 || (c->skipping && c->in_len > at)) {
				/* Too long: refuse it once, then drop bytes up to its LF. */
				if (!c->skipping)
					reply(c, "ERROR line too long (max %d bytes)", LINE_MAX_BYTES);
				c->skipping = 1;
				at = c->in_len;
			}
			break;
		}
		len = (size_t)(nl - (c->in + at));
		if (c->skipping) {
			c->skipping = 0;
		} else if (len > LINE_MAX_BYTES) {
			reply(c, "ERROR line too long (max %d bytes)", LINE_MAX_BYTES);
		} else {
			char *line = c->in + at;
			if (len && line[len - 1] == '\r')
				len--;
			line[len] = 0;
			if (len)
				command(c, line, len);
		}
		at = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
}

/* Send what is queued. Return: 0, or -1 when the socket failed. */
static int flush(struct client *c)
{
	if (srv_send(c->fd, c->out, &c->out_off, c->out_len, &c->last_ms) < 0)
		return -1;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return 0;
}

static void *client_open(int fd)
{
	struct client *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->in_len = c->out_off = c->out_len = 0;
	c->skipping = c->close_after = c->peer_done = 0;
	c->last_ms = srv_now_ms();
	return c;
}

static short client_events(void *state)
{
	struct client *c = state;
	short ev = 0;

	/* Read only while the replies have room: a client that does not read is not answered. */
	if (!c->peer_done && !c->close_after && c->in_len < IN_CAP && OUT_CAP - c->out_len >= REPLY_MAX + 1)
		ev |= POLLIN;
	if (c->out_off < c->out_len)
		ev |= POLLOUT;
	return ev;
}

static uint64_t client_deadline(void *state)
{
	return ((struct client *)state)->last_ms + (uint64_t)kv.idle_ms;
}

static int client_ready(void *state, short revents)
{
	struct client *c = state;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		while (c->in_len < IN_CAP && !c->peer_done) {
			ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
			if (n == 0) {
				c->peer_done = 1;
			} else if (n < 0) {
				if (!srv_again())
					return -1;
				break;
			} else {
				c->in_len += (size_t)n;
				c->last_ms = srv_now_ms();
			}
			process(c);     /* frees the buffer line by line, so it never fills */
			if (OUT_CAP - c->out_len < REPLY_MAX + 1)
				break;
		}
	}
	/* Answer and send until the socket is full or no whole line is left. */
	for (;;) {
		size_t before = c->in_len;
		process(c);
		if (flush(c) < 0)
			return -1;
		if (c->out_len || c->in_len == before)
			break;
	}
	/* QUIT answered, or the client gone with nothing left to answer: close. */
	return !c->out_len && (c->close_after || c->peer_done) ? -1 : 0;
}

static void client_close(void *state)
{
	free(state);
}

static const struct srv_ops kv_ops = { client_open, client_events, client_deadline, client_ready, client_close };

/* Attach the segment, or create and format it. Return: 0, or 1 (said why). */
static int attach(const char *name, long groups)
{
	size_t group_bytes = sizeof(struct kv_group);
	struct kv_head *h = seg_attach(name, SEG_KEY);
	int made = 0;

	if (!h && errno == ENOENT) {
		h = seg_create(name, sizeof(struct kv_head) + (size_t)groups * group_bytes, SEG_KEY);
		if (h) {
			made = 1;
			h->version = KV_VERSION;
			h->groups = (uint32_t)groups;
			h->slots = SLOTS;
			h->key_max = KEY_MAX;
			h->value_max = VALUE_MAX;
			h->slot_bytes = sizeof(struct kv_slot);
			h->group_bytes = (uint32_t)group_bytes;
			h->creator_pid = (int32_t)kv.self;
			h->creator_node = kv.node;
			__atomic_store_n(&h->magic, KV_MAGIC, __ATOMIC_RELEASE);
		} else if (errno == EEXIST) {
			h = seg_attach(name, SEG_KEY);  /* another kvd made it first */
		}
	}
	if (!h) {
		fprintf(stderr, PROG ": segment %s: %s\n", name, strerror(errno));
		return 1;
	}
	/* Made by another kvd a moment ago: its header may still be coming. */
	for (uint64_t t0 = srv_now_ms(); !__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);) {
		if (srv_now_ms() - t0 > 5000) {
			fprintf(stderr, PROG ": segment %s: never formatted (its creator died?)\n", name);
			return 1;
		}
		dm_yield();
	}
	if (h->magic != KV_MAGIC || h->version != KV_VERSION || h->slots != SLOTS ||
	    h->key_max != KEY_MAX || h->value_max != VALUE_MAX || h->slot_bytes != sizeof(struct kv_slot) ||
	    h->group_bytes != group_bytes || !h->groups || (h->groups & (h->groups - 1)) || h->groups > 4096) {
		fprintf(stderr, PROG ": segment %s: not a kvd store of this version\n", name);
		return 1;
	}
	kv.head = h;
	kv.groups = (struct kv_group *)(h + 1);
	kv.ngroups = h->groups;
	printf(PROG ": %s segment %s: %u groups, %u slots, made by pid %d on node %d\n",
	       made ? "made" : "attached", name, kv.ngroups, kv.ngroups * SLOTS,
	       (int)h->creator_pid, (int)h->creator_node);
	return 0;
}

/* Our program name as dm_ps() shows it, for holder_dead()'s check. */
static void find_name(const char *argv0)
{
	int n = dm_ps(ps, PS_MAX);

	snprintf(kv.name, sizeof(kv.name), "%s", base_name(argv0));
	for (int i = 0; i < n; i++)
		if ((uint32_t)ps[i].pid == kv.self)
			snprintf(kv.name, sizeof(kv.name), "%s", base_name(ps[i].name));
}

static int usage(void)
{
	fprintf(stderr, "usage: " PROG " [-p PORT] [-s NAME] [-g GROUPS] [-c CONNS] [-t SECS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *seg = "kvd";
	long groups = 256;
	int port = 6379, conn_max = 256, lfd, opt, status;

	kv.idle_ms = 300000;
	while ((opt = getopt(argc, argv, "p:s:g:c:t:")) != -1) {
		switch (opt) {
		case 'p': port = (int)srv_number(PROG, opt, optarg, 1, 65535); break;
		case 's': seg = optarg; break;
		case 'g': groups = srv_number(PROG, opt, optarg, 1, 4096); break;
		case 'c': conn_max = (int)srv_number(PROG, opt, optarg, 1, 1024); break;
		case 't': kv.idle_ms = (int)srv_number(PROG, opt, optarg, 1, 86400) * 1000; break;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	if (groups & (groups - 1)) {
		fprintf(stderr, PROG ": -g %ld: want a power of two\n", groups);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srv_signals();
	kv.self = (uint32_t)getpid();
	kv.node = dm_node();
	find_name(argv[0]);
	if (attach(seg, groups))
		return 1;
	/* A lock holding our pid is a dead process's that had it before us. */
	for (uint32_t i = 0; i < kv.ngroups; i++) {
		struct kv_group *g = group_at(i);
		uint32_t mine = kv.self;
		if (__atomic_compare_exchange_n(&g->lock, &mine, kv.self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			group_repair(g, kv.self);
			group_unlock(g);
		}
	}
	if ((lfd = srv_listen(PROG, port, 128)) < 0)
		return 1;
	printf(PROG ": node %d listening on port %d, segment %s\n", kv.node, port, seg);
	status = srv_loop(PROG, lfd, conn_max, &kv_ops);
	printf(PROG ": node %d handled %llu commands from %llu clients\n", kv.node,
	       (unsigned long long)kv.ops, (unsigned long long)srv_accepted);
	close(lfd);
	seg_detach(kv.head);
	return status;
}
