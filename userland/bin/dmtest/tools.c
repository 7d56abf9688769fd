/*
 * dmtest: files and other programs (see main.c; files.c holds the
 * helpers): descriptors given to a spawned child (dm_spawn_fds), spawning
 * by path and what a spawn refuses to run (ENOEXEC, EACCES), and the
 * small tools (cat, wc, mkdir, cp, mv, ls, rm; touch, stat, head, rmdir,
 * sync) and the shell's redirections over them, run with `sh -c`.
 */
#include "dmtest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *t_file_spawn_fds(void)
{
	char *argv[] = { "hello", NULL };
	const char *err;
	int fd, pid, st, fds[3];

	if ((err = workdir("spawnfds")))
		return err;
	fd = open(path("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open: %s", ename(errno));
	fds[0] = DM_FD_NONE, fds[1] = fd, fds[2] = 2;
	pid = dm_spawn_fds("hello", argv, self, fds);
	CHECK(pid > 0, "dm_spawn_fds: %s", ename(errno));
	CHECK(dm_wait(pid, &st) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "hello: %s",
	      status_str(st));
	CHECK(lseek(fd, 0, SEEK_CUR) > 0, "the shared offset did not move");
	close(fd);
	CHECK(strstr(get(path("out")), "hello: ok"), "hello's output is not in the file: '%s'",
	      get(path("out")));
	fds[1] = 99;
	ERR(dm_spawn_fds("hello", argv, self, fds), EBADF);
	ERR(dm_spawn_fds("hello", argv, self, (int *)KADDR), EFAULT);
	fds[1] = open(path("out"), O_RDONLY);
	if (nodes > 1)
		ERR(dm_spawn_fds("hello", argv, other, fds), EXDEV);
	ERR(dm_spawn_fds("hello", argv, DM_NODE_ANY, fds), EXDEV);
	close(fds[1]);
	ERR(dm_wait(-1, NULL), ECHILD);         /* none of those started */
	rmtree(dir);
	return NULL;
}

/* Run `sh -c LINE` here; its output goes to the file out. Return: its exit status, or -1. */
static int sh(const char *line, const char *out)
{
	char *argv[] = { "sh", "-c", (char *)line, NULL };
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fds[3] = { DM_FD_NONE, fd, fd }, st;
	int pid = fd >= 0 ? dm_spawn_fds("sh", argv, self, fds) : -1;

	if (fd >= 0)
		close(fd);
	if (pid < 0 || dm_wait(pid, &st) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* s with each mark the test's directory, into out (n bytes). */
static void expand(const char *s, char mark, char *out, size_t n)
{
	char *o = out;

	for (; *s && o + sizeof(dir) + 1 < out + n; s++)
		o += *s == mark ? sprintf(o, "%s", dir) : (*o = *s, 1);
	*o = 0;
}

struct step {
	const char *line, *want;        /* mark: the test's directory */
	int status;
};

/* Run each step with `sh -c` (output and errors to one file) and check
 * what it printed and its exit status. Return: NULL, or why not. */
static const char *run_steps(const struct step *steps, unsigned n, char mark)
{
	char line[256], want[512], got[1024], out[64];

	snprintf(out, sizeof(out), "/tmp/%s.tools.out", prefix);
	for (unsigned i = 0; i < n; i++) {
		expand(steps[i].line, mark, line, sizeof(line));
		expand(steps[i].want, mark, want, sizeof(want));
		int status = sh(line, out);
		snprintf(got, sizeof(got), "%s", get(out));
		char *report = strstr(got, "sh: ");     /* "sh: PROG (pid N) exited with status S" */
		if (report && (report == got || report[-1] == '\n') && strstr(report, " (pid "))
			*report = 0;
		CHECK(status == steps[i].status && !strcmp(got, want),
		      "sh -c '%s': status %d, output '%s'; want %d, '%s'", line, status, got,
		      steps[i].status, want);
	}
	unlink(out);
	return NULL;
}

const char *t_file_tools(void)
{
	static const struct step steps[] = {
		{ "echo hello dmos > D/a", "", 0 },
		{ "cat D/a", "hello dmos\n", 0 },
		{ "echo -n more >> D/a", "", 0 },
		{ "cat D/a D/a", "hello dmos\nmorehello dmos\nmore", 0 },
		{ "wc D/a", "      1       3      15 D/a\n", 0 },
		{ "wc -l < D/a", "      1\n", 0 },
		{ "mkdir -p D/x/y/z", "", 0 },
		{ "cp D/a D/x/y", "", 0 },
		{ "mv D/x/y/a D/x/b", "", 0 },
		{ "ls D/x", "b\ny\n", 0 },
		{ "ls -l D/x/b", "-rw-r--r--  1        15 D/x/b\n", 0 },
		{ "cat D/x/b", "hello dmos\nmore", 0 },
		{ "cat D/nothing", "cat: D/nothing: No such file or directory\n", 1 },
		{ "cat D/nothing 2> D/err", "", 1 },
		{ "cat D/err", "cat: D/nothing: No such file or directory\n", 0 },
		{ "rm D/x", "rm: D/x: is a directory (rm -r removes it)\n", 1 },
		{ "rm -r D/x", "", 0 },
		{ "ls D", "a\nerr\n", 0 },
		{ "echo '>' \"a b\" > D/q", "", 0 },
		{ "cat < D/q", "> a b\n", 0 },
		{ "cd D", "", 0 },
		{ "cat > /tmp", "sh: /tmp: Is a directory\n", 1 },
		{ "mv D/a /a", "mv: D/a -> /a: Cross-device link\n", 1 },
	};
	const char *err;

	if ((err = workdir("tools")) || (err = run_steps(steps, ARRAY_LEN(steps), 'D')))
		return err;
	rmtree(dir);
	return NULL;
}

/*
 * touch, stat, head, rmdir and sync, in /tmp (the one file system every
 * layout can write). '~' is the test's directory; the steps run in it, so
 * relative paths work too. 1700000000 s is 2023-11-14 22:13:20 UTC.
 */
const char *t_file_more_tools(void)
{
	static const struct step steps[] = {
		{ "touch ~/a b", "", 0 },
		{ "ls", "a\nb\n", 0 },
		{ "stat -c '%n %s %F %a %A %h' ~/a", "~/a 0 regular file 644 -rw-r--r-- 1\n", 0 },
		{ "stat -c '%F %a' ~", "directory 755\n", 0 },
		{ "touch -d @1700000000.25 a", "", 0 },
		{ "stat -c '%X %Y|%y|%x' a", "1700000000 1700000000|2023-11-14 22:13:20.250000000 +0000|"
		  "2023-11-14 22:13:20.250000000 +0000\n", 0 },
		{ "touch -r a b", "", 0 },
		{ "stat -c %Y:%y b", "1700000000:2023-11-14 22:13:20.250000000 +0000\n", 0 },
		{ "touch b", "", 0 },
		{ "touch -c nothing", "", 0 },
		{ "ls", "a\nb\n", 0 },
		{ "touch -d yesterday a", "touch: -d yesterday: not @SECONDS[.FRACTION] "
		  "(touch [-c] [-r REF | -d @SECONDS[.FRACTION]] FILE...)\n", 2 },
		{ "touch -r nothing a", "touch: nothing: No such file or directory\n", 1 },
		{ "stat nothing", "stat: nothing: No such file or directory\n", 1 },
		{ "stat -c %q a", "stat: -c: unknown directive %q (stat.c lists them)\n", 2 },
		{ "echo one > h", "", 0 },
		{ "echo two >> h", "", 0 },
		{ "echo three >> h", "", 0 },
		{ "head -n 2 h", "one\ntwo\n", 0 },
		{ "head -1 h", "one\n", 0 },
		{ "head -c 5 h", "one\nt", 0 },
		{ "head -n 0 h", "", 0 },
		{ "head h", "one\ntwo\nthree\n", 0 },
		{ "head -2 < h", "one\ntwo\n", 0 },
		{ "head -1 h a ~/h", "==> h <==\none\n\n==> a <==\n\n==> ~/h <==\none\n", 0 },
		{ "head -n x h", "head: -n wants a count, not 'x' (head [-n N] [-c N] [FILE...])\n", 2 },
		{ "head nothing h", "head: nothing: No such file or directory\n==> h <==\none\ntwo\n"
		  "three\n", 1 },
		{ "head ~", "head: ~: Is a directory\n", 1 },
		{ "mkdir -p x/y/z", "", 0 },
		{ "rmdir x", "rmdir: x: Directory not empty\n", 1 },
		{ "rmdir a", "rmdir: a: Not a directory\n", 1 },
		{ "rmdir nothing", "rmdir: nothing: No such file or directory\n", 1 },
		{ "rmdir -p x/y/z", "", 0 },
		{ "mkdir x", "", 0 },
		{ "rmdir ~/x", "", 0 },
		{ "ls", "a\nb\nh\n", 0 },
		{ "sync a ~ h", "", 0 },
		{ "sync -d a", "", 0 },
		{ "sync nothing a", "sync: nothing: No such file or directory\n", 1 },
		{ "sync", "sync: which files? dmos flushes named files only (sync [-d] FILE...)\n", 2 },
	};
	char back[DM_PATH_MAX];
	const char *err;

	if ((err = workdir("moretools")))
		return err;
	CHECK(getcwd(back, sizeof(back)) && chdir(dir) == 0, "chdir(%s): %s", dir, ename(errno));
	err = run_steps(steps, ARRAY_LEN(steps), '~');
	CHECK(chdir(back) == 0, "chdir(%s): %s", back, ename(errno));
	if (err)
		return err;
	rmtree(dir);
	return NULL;
}

/* The first name of the program that exists, by path: in /bin, else in the initrd. */
static const char *program_path(const char *name)
{
	static char p[DM_PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "/bin/%s", name);
	return stat(p, &st) == 0 ? p : ird(name);
}

/* Copy n bytes of from (all of it: n 0) into to, with mode. Return: 0, or -1. */
static int copy(const char *from, const char *to, size_t n, mode_t mode)
{
	char buf[4096];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t done = 0;
	ssize_t k = 0;

	while (in >= 0 && out >= 0 && (!n || done < n) &&
	       (k = read(in, buf, n && n - done < sizeof(buf) ? n - done : sizeof(buf))) > 0 &&
	       write(out, buf, k) == k)
		done += k;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return in >= 0 && out >= 0 && k >= 0 ? 0 : -1;
}

/* Spawn path here, its output into the test's file "out", and wait.
 * Return: its wait status, or -1 (errno: why it did not start). */
static int run_path(const char *p)
{
	char *argv[] = { (char *)p, NULL };
	int fd = open(path("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int fds[3] = { DM_FD_NONE, fd, fd }, st, pid = fd < 0 ? -1 : dm_spawn_fds(p, argv, self, fds), e = errno;

	if (fd >= 0)
		close(fd);
	errno = e;
	return pid < 0 || dm_wait(pid, &st) != pid ? -1 : st;
}

/*
 * Spawning by path: a copy of hello in /tmp runs from there; a file that
 * is no program (text, or an ELF cut short) is ENOEXEC, one without an x
 * bit or a directory EACCES, and the shell says so in words.
 */
const char *t_spawn_paths(void)
{
	char name[DM_FILENAME_MAX + 2];
	const char *err;
	int st;

	if ((err = workdir("spawnpath")))
		return err;
	CHECK(copy(program_path("hello"), path("hello"), 0, 0755) == 0, "copy hello: %s",
	      ename(errno));
	st = run_path(path("hello"));
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", path("hello"),
	      st < 0 ? ename(errno) : status_str(st));
	CHECK(strstr(get(path("out")), "hello: ok"), "its output: '%s'", get(path("out")));
	CHECK(chdir(dir) == 0, "chdir: %s", ename(errno));
	st = run_path("./hello");               /* relative to the parent's directory */
	CHECK(chdir("/") == 0 && st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "./hello: %s",
	      st < 0 ? ename(errno) : status_str(st));
	CHECK(copy(program_path("hello"), path("short"), 200, 0755) == 0, "copy: %s", ename(errno));
	ERR(run_path(path("short")), ENOEXEC);  /* its headers, cut short */
	CHECK(copy(path("hello"), path("nox"), 0, 0644) == 0, "copy: %s", ename(errno));
	ERR(run_path(path("nox")), EACCES);
	ERR(run_path(dir), EACCES);
	ERR(run_path(path("nothing")), ENOENT);
	ERR(run_path(path("hello/x")), ENOTDIR);
	ERR(run_path(""), ENOENT);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	ERR(run_path(name), ENAMETOOLONG);
	static const struct step steps[] = {
		{ "echo this is no program > ~/junk", "", 0 },
		{ "~/junk", "sh: ~/junk: permission denied (a directory, or not executable)\n", 127 },
		{ "~/short", "sh: ~/short: not a program dmos can run (no x86_64 ELF executable)\n",
		  127 },
		{ "~", "sh: ~: permission denied (a directory, or not executable)\n", 127 },
	};
	if ((err = run_steps(steps, ARRAY_LEN(steps), '~')))
		return err;
	rmtree(dir);
	return NULL;
}
