/*
 * sh: a small shell on the node's console. Runs programs by name (the
 * kernel looks in /bin of the cluster file system, then in the initrd) or
 * by path (./prog, /tmp/prog), on this node or on another one, in the
 * foreground or the background, with their input and output in files:
 *
 *   sh$ hello a b          run hello here and wait for it
 *   sh$ bigalloc 64 pool &  run it in the background; prints its pid
 *   sh$ @2 hello            run hello on node 2 and wait (also: on 2 hello)
 *   sh$ ls /tmp > /tmp/list     standard output to a file (>> appends)
 *   sh$ wc < /tmp/list 2> /tmp/err   input from a file; errors elsewhere
 *   sh$ cat nofile > out 2>&1   errors where the output goes
 *
 * Builtins: cd [DIR], pwd, exit [STATUS], help, wait (every background
 * job), jobs. `sh -c COMMAND...` runs one command line and exits with its
 * status. A command that fails gets one line saying how (exit status or
 * signal). Words are split at blanks; "double" or 'single' quotes keep
 * blanks in a word (and a quoted ">" is a word, not a redirection).
 * Files are this node's: a program run on another node with a
 * redirection is refused (EXDEV). Reads lines with fgets(stdin) until end
 * of input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dm.h"

#define MAX_LINE  512
#define MAX_WORDS DM_ARGS_MAX   /* the kernel passes at most this many arguments */
#define MAX_JOBS  32

struct job {
	int pid, node;
	char name[DM_NAME_MAX];
};

static struct job jobs[MAX_JOBS];
static int njobs;
static int self;                /* this node */

/*
 * Split line into words in place; quoted[i]: word i had quotes in it.
 * Return: how many, or -1 (said why).
 */
static int split(char *line, char **w, bool *quoted)
{
	int n = 0;
	char *p = line, *out;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == MAX_WORDS + 6) {       /* room for three redirections */
			printf("sh: too many words (at most %d)\n", MAX_WORDS);
			return -1;
		}
		quoted[n] = false;
		w[n++] = out = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if (*p == '"' || *p == '\'') {
				char q = *p++;
				quoted[n - 1] = true;
				while (*p && *p != q)
					*out++ = *p++;
				if (*p != q) {
					printf("sh: missing %c\n", q);
					return -1;
				}
				p++;
			} else {
				*out++ = *p++;
			}
		}
		if (*p)
			p++;
		*out = 0;
	}
}

/* Print how a job ended, if it did not go well (or always, when verbose). */
static void report(const char *name, int pid, int status, int verbose)
{
	if (WIFSIGNALED(status))
		printf("sh: %s (pid %d) killed by signal %d%s\n", name, pid, WTERMSIG(status),
		       WTERMSIG(status) == DM_SIGSEGV ? " (fault)" :
		       WTERMSIG(status) == DM_SIGKILL ? " (killed)" :
		       WTERMSIG(status) == DM_SIGBUS ? " (lost vital memory)" : "");
	else if (WEXITSTATUS(status) || verbose)
		printf("sh: %s (pid %d) exited with status %d\n", name, pid, WEXITSTATUS(status));
}

static void forget(int i)
{
	jobs[i] = jobs[--njobs];
}

/* Wait for every background job. */
static void wait_all(void)
{
	while (njobs) {
		int status = 0, pid = dm_wait(jobs[0].pid, &status);
		if (pid < 0)
			printf("sh: wait for %s (pid %d): %s\n", jobs[0].name, jobs[0].pid, strerror(errno));
		else
			report(jobs[0].name, pid, status, 1);
		forget(0);
	}
}

/* Reap background jobs of this node that have ended (zombies in dm_ps). */
static void reap_done(void)
{
	static struct dm_proc ps[512];
	int n;

	if (!njobs || (n = dm_ps(ps, 512)) < 0)
		return;
	for (int i = 0; i < njobs; i++) {
		if (jobs[i].node != self)
			continue;       /* ended remote jobs show up at wait */
		for (int k = 0; k < n; k++) {
			if (ps[k].pid != jobs[i].pid || ps[k].state != DM_PROC_ZOMBIE)
				continue;
			int status = 0;
			if (dm_wait(jobs[i].pid, &status) == jobs[i].pid)
				report(jobs[i].name, jobs[i].pid, status, 1);
			forget(i--);
			break;
		}
	}
}

static void list_jobs(void)
{
	static struct dm_proc ps[512];
	int n = dm_ps(ps, 512);

	for (int i = 0; i < njobs; i++) {
		const char *state = "running";
		for (int k = 0; k < n; k++)
			if (ps[k].pid == jobs[i].pid)
				state = dm_state_name(ps[k].state);
		printf("[%d] node %d %-8s %s\n", jobs[i].pid, jobs[i].node, state, jobs[i].name);
	}
}

static void help(void)
{
	printf("sh: run programs (from /bin, else the initrd) on this node or another one\n"
	       "  PROG [ARGS]         run PROG here and wait for it\n"
	       "  PROG [ARGS] &       run it in the background (prints its pid)\n"
	       "  @N PROG [ARGS]      run it on node N (also: on N PROG [ARGS])\n"
	       "  PROG < IN > OUT     input from file IN, output to file OUT (>> appends;\n"
	       "                      2> FILE: errors; 2>&1: errors with the output)\n"
	       "  cd [DIR], pwd       change, show the working directory\n"
	       "  wait                wait for every background job\n"
	       "  jobs                list the background jobs\n"
	       "  exit [STATUS]       leave the shell\n"
	       "  help                this text\n"
	       "programs: ls, cat, head, echo, mkdir, rmdir, rm, mv, cp, touch, stat, wc, sync,\n"
	       "          ps, free, kill, hello, dmtest, ... (ls /bin; a path runs that file)\n"
	       "files: / is the cluster's disk (the initrd at /initrd; without a disk the\n"
	       "       initrd is /), /tmp this node's memory\n");
}

/* A node number, or -1. */
static int node_arg(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	return *s && !*end && n >= 0 && n < 1000 ? (int)n : -1;
}

/* The child's 0, 1 and 2, and the files opened for them (-1: none). */
struct redir {
	int fd[3];
	int opened[3];
	bool any;
};

static void close_redir(struct redir *r)
{
	for (int i = 0; i < 3; i++)
		if (r->opened[i] >= 0)
			close(r->opened[i]);
}

/*
 * Take the redirections out of w[0..n): "< FILE", "> FILE", ">> FILE",
 * "2> FILE", "2>> FILE" (FILE also right after the operator), "2>&1".
 * Return: the words left, or -1 (said why; nothing left open).
 */
static int redirect(char **w, const bool *quoted, int n, struct redir *r)
{
	int k = 0;

	*r = (struct redir){ { 0, 1, 2 }, { -1, -1, -1 }, false };
	for (int i = 0; i < n; i++) {
		const char *op = w[i], *file;
		int fd = op[0] == '2' ? 2 : op[0] == '<' ? 0 : 1, flags;
		if (quoted[i] || !strchr("<>2", op[0]) || (op[0] == '2' && op[1] != '>')) {
			w[k++] = w[i];
			continue;
		}
		if (!strcmp(op, "2>&1")) {
			r->fd[2] = r->fd[1];
			r->any = true;
			continue;
		}
		op += fd == 2;
		flags = op[0] == '<' ? O_RDONLY : O_WRONLY | O_CREAT | (op[1] == '>' ? O_APPEND : O_TRUNC);
		op += op[1] == '>' ? 2 : 1;
		if (!(file = *op ? op : i + 1 < n ? w[++i] : NULL) || !*file) {
			printf("sh: %s: which file?\n", w[i]);
			close_redir(r);
			return -1;
		}
		if (r->opened[fd] >= 0)
			close(r->opened[fd]);
		if ((r->opened[fd] = open(file, flags, 0666)) < 0) {
			printf("sh: %s: %s\n", file, strerror(errno));
			close_redir(r);
			return -1;
		}
		r->fd[fd] = r->opened[fd];
		r->any = true;
	}
	return k;
}

static void cd(char **w, int n, int *last)
{
	const char *dir = n > 1 ? w[1] : "/";

	*last = 0;
	if (chdir(dir) < 0) {
		printf("sh: cd: %s: %s\n", dir, strerror(errno));
		*last = 1;
	}
}

static void pwd(int *last)
{
	char buf[DM_PATH_MAX];

	*last = 0;
	if (getcwd(buf, sizeof(buf)))
		printf("%s\n", buf);
	else {
		printf("sh: pwd: %s\n", strerror(errno));
		*last = 1;
	}
}

/* Run the command w[0..n) with redirections r (already open). Return: 1 to leave the shell. */
static int run_redirected(char **w, int n, struct redir *r, int *last)
{
	size_t len = strlen(w[n - 1]);
	int node = self, bg = 0;

	if (!strcmp(w[n - 1], "&")) {
		bg = 1;
		n--;
	} else if (len > 1 && w[n - 1][len - 1] == '&') {
		bg = 1;
		w[n - 1][len - 1] = 0;
	}
	if (n && w[0][0] == '@') {
		if ((node = node_arg(w[0] + 1)) < 0) {
			printf("sh: %s: not a node number\n", w[0]);
			return 0;
		}
		w++, n--;
	} else if (n >= 2 && !strcmp(w[0], "on")) {
		if ((node = node_arg(w[1])) < 0) {
			printf("sh: %s: not a node number\n", w[1]);
			return 0;
		}
		w += 2, n -= 2;
	}
	if (!n) {
		printf("sh: which program?\n");
		return 0;
	}
	w[n] = NULL;

	if (!strcmp(w[0], "exit")) {
		if (n > 1)
			*last = atoi(w[1]);
		return 1;
	}
	if (!strcmp(w[0], "help")) {
		help();
		return 0;
	}
	if (!strcmp(w[0], "wait")) {
		wait_all();
		return 0;
	}
	if (!strcmp(w[0], "jobs")) {
		list_jobs();
		return 0;
	}

	if (!strcmp(w[0], "cd")) {
		cd(w, n, last);
		return 0;
	}
	if (!strcmp(w[0], "pwd")) {
		pwd(last);
		return 0;
	}

	char *prog = w[0], abs[DM_PATH_MAX];
	if (node != self && strchr(prog, '/') && prog[0] != '/') {
		/* another node resolves a path from "/": give it the one meant here */
		if (!getcwd(abs, sizeof(abs)) || strlen(abs) + strlen(prog) + 2 > sizeof(abs)) {
			printf("sh: %s: cannot make the path absolute for node %d\n", prog, node);
			*last = 127;
			return 0;
		}
		size_t n = strlen(abs);
		snprintf(abs + n, sizeof(abs) - n, "%s%s", n > 1 ? "/" : "", prog);   /* "/" + "x/y" */
		prog = abs;
	}
	int pid = r->any ? dm_spawn_fds(prog, w, node, r->fd) : dm_spawn(prog, w, node);
	if (pid < 0) {
		int err = errno;
		if (err == ENOENT)
			printf("sh: %s: no such program\n", w[0]);
		else if (err == ENOEXEC)
			printf("sh: %s: not a program dmos can run (no x86_64 ELF executable)\n", w[0]);
		else if (err == EACCES)
			printf("sh: %s: permission denied (a directory, or not executable)\n", w[0]);
		else if (err == EINVAL && node != self)
			printf("sh: %s: no node %d in this cluster\n", w[0], node);
		else if (err == EHOSTDOWN)
			printf("sh: %s: node %d is down\n", w[0], node);
		else if (err == EXDEV)
			printf("sh: %s: files of this node cannot go to node %d\n", w[0], node);
		else
			printf("sh: %s: cannot start: %s\n", w[0], strerror(err));
		*last = 127;
		return 0;
	}
	if (bg) {
		if (njobs == MAX_JOBS) {
			printf("sh: too many jobs; waiting for %s (pid %d) now\n", w[0], pid);
		} else {
			jobs[njobs] = (struct job){ pid, node, { 0 } };
			strncpy(jobs[njobs].name, w[0], DM_NAME_MAX - 1);
			njobs++;
			printf("[%d]\n", pid);
			return 0;
		}
	}
	int status = 0;
	if (dm_wait(pid, &status) < 0) {
		printf("sh: wait for %s (pid %d): %s\n", w[0], pid, strerror(errno));
		*last = 127;
		return 0;
	}
	report(w[0], pid, status, 0);
	*last = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

/* Run one command line. Return: 1 to leave the shell. */
static int run(char *line, int *last)
{
	char *words[MAX_WORDS + 7];
	bool quoted[MAX_WORDS + 6];
	struct redir r;
	int n = split(line, words, quoted);

	if (n > 0 && (n = redirect(words, quoted, n, &r)) < 0)
		*last = 1;
	if (n <= 0)
		return 0;
	if (n > MAX_WORDS) {
		printf("sh: too many words (at most %d)\n", MAX_WORDS);
		close_redir(&r);
		return 0;
	}
	int done = run_redirected(words, n, &r, last);
	close_redir(&r);        /* the child has its own references */
	return done;
}
int main(int argc, char **argv)
{
	char line[MAX_LINE];
	int last = 0;

	self = dm_node();
	if (self < 0)
		self = 0;
	if (argc > 2 && !strcmp(argv[1], "-c")) {       /* sh -c COMMAND...: run one line */
		line[0] = 0;
		for (int i = 2; i < argc; i++) {
			if (strlen(line) + strlen(argv[i]) + 2 > sizeof(line)) {
				printf("sh: -c: line too long\n");
				return 2;
			}
			strcat(line, argv[i]);
			strcat(line, " ");
		}
		run(line, &last);
		wait_all();
		return last;
	}
	for (;;) {
		reap_done();
		printf("sh$ ");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			break;
		if (!strchr(line, '\n') && strlen(line) == sizeof(line) - 1) {
			int c;
			while ((c = getchar()) != EOF && c != '\n')
				;
			printf("sh: line too long (at most %d bytes)\n", MAX_LINE - 2);
			continue;
		}
		if (run(line, &last))
			break;
	}
	wait_all();
	return last;
}
