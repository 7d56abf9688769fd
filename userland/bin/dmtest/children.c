/* dmtest: the children that tests start (see main.c). */
#include "dmtest.h"

/* ---- the children ------------------------------------------------------------------- */

volatile uintptr_t bad_address = 16;

int child_watchdog(char **a)     /* SEG SLOT PID MS */
{
	struct ctl *c = seg_attach(a[0], 0);
	int slot = atoi(a[1]), pid = atoi(a[2]);
	uint64_t until = now() + strtoull(a[3], NULL, 10) * MS;

	if (!c)
		return 1;       /* the parent still waits for us; it finds no kill */
	uint32_t *w = c->dog;
	for (uint64_t t; __atomic_load_n(&w[slot], __ATOMIC_SEQ_CST) == 0 && (t = now()) < until;)
		futex_wait(&w[slot], 0, until - t);
	uint32_t zero = 0;
	if (__atomic_compare_exchange_n(&w[slot], &zero, 2, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		if (kill(pid, 9) == 0)
			printf("# dmtest: watchdog: pid %d still running after %s ms; killed it\n", pid, a[3]);
		else
			printf("# dmtest: watchdog: pid %d has ended, but after %s ms its parent still waits "
			       "for it (was its exit status lost?)\n", pid, a[3]);
	}
	return 0;
}

int child_ids(char **a)          /* PARENT */
{
	if (getppid() != atoi(a[0]))
		return 255;
	if (getpid() / PID_STRIDE != dm_node())
		return 254;
	return getpid() % 200 + 1;
}

int child_usefree(void)
{
	volatile char *p = dm_alloc(16 * PAGE, DM_LOCAL, 0);

	if (!p)
		return 2;
	p[0] = 1;
	p[5 * PAGE] = 1;
	if (dm_free((void *)p, 16 * PAGE))
		return 3;
	p[5 * PAGE] = 2;        /* must fault */
	return 4;
}

int child_walk(char **a)         /* SEG ADDR */
{
	struct list *l = NULL;

	for (int i = 0; i < 100 && !l; i++)
		if (!(l = seg_attach(a[0], 0)))
			dm_sleep_ns(20 * MS);
	if (!l)
		return 3;
	if ((uintptr_t)l != strtoull(a[1], NULL, 16))
		return 2;
	uint64_t sum = 0, n = 0, bad = 0;
	char *lo = (char *)l, *hi = lo + LIST_BYTES;
	for (struct item *it = l->first; it && n <= LIST_ITEMS; it = it->next, n++) {
		if ((char *)it < lo || (char *)it >= hi) {
			bad++;
			break;
		}
		bad += it->value != (uint64_t)(it - l->items) * (it - l->items) + 1;
		sum += it->value;
	}
	l->result = sum;
	__atomic_store_n(&l->done, bad || n != l->count ? 2 : 1, __ATOMIC_RELEASE);
	futex_wake(&l->done, 1);
	seg_detach(l);
	return bad || n != LIST_ITEMS ? 4 : 0;
}

int child_key(char **a)          /* SEG KEY */
{
	uint32_t key = (uint32_t)strtoul(a[1], NULL, 10), *p;

	errno = 0;
	if (seg_attach(a[0], 0) || errno != EACCES)
		return 10;
	if (seg_attach(a[0], key + 1) || errno != EACCES)
		return 11;
	if (!(p = seg_attach(a[0], key)))
		return 12;
	return p[0] == 0xfeedf00d ? 0 : 13;
}

int child_segdetach(char **a)    /* SEG */
{
	char name[DM_NAME_MAX];
	volatile char *p;

	snprintf(name, sizeof(name), "%s.c", a[0]);
	if (!(p = seg_create(name, PAGE, 0)))
		return 2;
	p[0] = 1;
	if (seg_detach((void *)p))
		return 3;
	p[0] = 2;               /* must fault */
	return 4;
}

int child_wake(char **a)         /* SEG DELAY_MS */
{
	uint32_t *w = seg_attach(a[0], 0);

	if (!w)
		return 20;
	dm_sleep_ns(strtoull(a[1], NULL, 10) * MS);
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	int n = futex_wake(w, 1);
	return n < 0 ? 21 : n;
}

int child_args(int n, char **a)
{
	char args[15][64], *argv[17];

	make_args(args, argv);
	if (n != 13)
		return 1;
	for (int i = 0; i < 13; i++)
		if (strcmp(a[i], argv[3 + i]))
			return 2 + i;
	return 0;
}

int child_hog(char **a)          /* MIB: hold that much local and pool memory, then exit */
{
	size_t n = strtoull(a[0], NULL, 10) << 20;
	char *l = dm_alloc(n, DM_LOCAL, 0), *p = dm_alloc(n, DM_POOL, 0), *m = malloc(n);

	if (!l || !p || !m)
		return 2;
	for (size_t i = 0; i < n; i += PAGE)
		l[i] = p[i] = m[i] = 1;
	return 0;               /* exit with all of it held */
}

int child_segleave(char **a)     /* SEG: create it and exit attached */
{
	char *p = seg_create(a[0], 8 * PAGE, 0);

	if (!p)
		return 2;
	p[0] = 1;
	return 0;
}

int child_fwait(char **a)        /* SEG MS: wait on its first word; 0 when woken */
{
	uint32_t *w = seg_attach(a[0], 0);

	if (!w)
		return 20;
	int r = futex_wait(w, 0, strtoull(a[1], NULL, 10) * MS);
	return r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 21;
}

int child_waitkid(char **a)      /* MS: start a sleeping child and wait for it */
{
	char *argv[] = { "dmtest", "--child", "sleep", a[0], NULL };
	int st, pid = dm_spawn("dmtest", argv, dm_node());

	if (pid < 0)
		return 2;
	dm_wait(pid, &st);
	return 0;
}

int child_spawnon(char **a)      /* NODE: start `exit 0` there, wait; 100 + errno if it fails */
{
	char *argv[] = { "dmtest", "--child", "exit", "0", NULL };
	int st, pid = dm_spawn("dmtest", argv, atoi(a[0]));

	if (pid < 0)
		return 100 + (errno < 150 ? errno : 0);
	if (dm_wait(pid, &st) != pid)
		return 2;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
}

int child_toobig(void)
{
	struct dm_meminfo m0, m1, m2;

	dm_meminfo(&m0);
	size_t big = m0.local_total + (16 << 20);
	errno = 0;
	if (dm_alloc(big, DM_LOCAL, 0) || errno != ENOMEM)
		return 2;
	dm_meminfo(&m1);
	if (dm_alloc(big, DM_LOCAL, 0) || errno != ENOMEM)
		return 2;
	dm_meminfo(&m2);
	/* the page tables built on the way may stay (one page per 2 MiB); nothing else */
	if (m1.local_free + big / 512 + (256 << 10) < m0.local_free || m2.local_free + (16 << 10) < m1.local_free) {
		printf("# local free: %llu KiB before, %llu after a refused dm_alloc, %llu after another\n",
		       (unsigned long long)m0.local_free >> 10, (unsigned long long)m1.local_free >> 10,
		       (unsigned long long)m2.local_free >> 10);
		return 3;
	}
	char *p = dm_alloc(1 << 20, DM_LOCAL, 0);
	return p ? 0 : 4;
}

int child_churn(char **a)        /* ROUNDS: exit with the KiB lost / 16 */
{
	struct dm_meminfo m0, m1;
	int rounds = atoi(a[0]);

	dm_meminfo(&m0);
	for (int i = 0; i < rounds; i++) {
		char *p = dm_alloc(1 << 20, DM_ANY, 0);
		if (!p)
			return 255;
		p[PAGE] = 1;
		if (dm_free(p, 1 << 20))
			return 255;
	}
	dm_meminfo(&m1);
	int64_t lost = ((int64_t)m0.local_free - (int64_t)m1.local_free) / 1024 / 16;
	return lost < 0 ? 0 : lost > 254 ? 254 : (int)lost;
}

int child_spawnleave(char **a)   /* NODE: start `exit 0` there and exit without waiting */
{
	char *argv[] = { "dmtest", "--child", "exit", "0", NULL };

	return dm_spawn("dmtest", argv, atoi(a[0])) < 0;
}

int child(int argc, char **argv)
{
	const char *m = argv[0];
	char **a = argv + 1;
	int n = argc - 1;

	if (!strcmp(m, "exit") && n == 1)
		exit(atoi(a[0]));
	if (!strcmp(m, "return") && n == 1)
		return atoi(a[0]);
	if (!strcmp(m, "segv")) {
		*(volatile int *)bad_address = 1;
		return 100;
	}
	if (!strcmp(m, "ud2")) {
		__asm__ volatile("ud2");
		return 100;
	}
	if (!strcmp(m, "sleep") && n == 1) {
		dm_sleep_ns(strtoull(a[0], NULL, 10) * MS);
		return 0;
	}
	if (!strcmp(m, "spin") && n == 1) {
		for (uint64_t until = now() + strtoull(a[0], NULL, 10) * MS; now() < until;)
			;
		return 0;
	}
	if (!strcmp(m, "watchdog") && n == 4)
		return child_watchdog(a);
	if (!strcmp(m, "sockconnect") && n == 3)
		return child_sockconnect(a);
	if (!strcmp(m, "sockudp") && n == 2)
		return child_sockudp(a);
	if (!strcmp(m, "sockaccept") && n == 2)
		return child_sockaccept(a);
	if (!strcmp(m, "sockfault") && n == 1)
		return child_sockfault(a);
	if (!strcmp(m, "sockrecv") && n == 2)
		return child_sockrecv(a);
	if (!strcmp(m, "ids") && n == 1)
		return child_ids(a);
	if (!strcmp(m, "usefree"))
		return child_usefree();
	if (!strcmp(m, "walk") && n == 2)
		return child_walk(a);
	if (!strcmp(m, "key") && n == 2)
		return child_key(a);
	if (!strcmp(m, "segdetach") && n == 1)
		return child_segdetach(a);
	if (!strcmp(m, "wake") && n == 2)
		return child_wake(a);
	if (!strcmp(m, "args"))
		return child_args(n, a);
	if (!strcmp(m, "hog") && n == 1)
		return child_hog(a);
	if (!strcmp(m, "segleave") && n == 1)
		return child_segleave(a);
	if (!strcmp(m, "fwait") && n == 2)
		return child_fwait(a);
	if (!strcmp(m, "waitkid") && n == 1)
		return child_waitkid(a);
	if (!strcmp(m, "spawnon") && n == 1)
		return child_spawnon(a);
	if (!strcmp(m, "spawnleave") && n == 1)
		return child_spawnleave(a);
	if (!strcmp(m, "toobig"))
		return child_toobig();
	if (!strcmp(m, "churn") && n == 1)
		return child_churn(a);
	if (!strcmp(m, "lock") && n == 5)
		return child_lock(a);
	printf("dmtest: unknown child mode '%s' with %d arguments\n", m, n);
	return 99;
}
