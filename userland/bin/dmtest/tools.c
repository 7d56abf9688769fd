/*
 * dmtest: files and other programs (see main.c; files.c holds the
 * helpers): descriptors given to a spawned child (dm_spawn_fds), and the
 * small tools (cat, wc, mkdir, cp, mv, ls, rm) and the shell's
 * redirections over them, run with `sh -c`.
 */
#include "dmtest.h"

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

/* s with each D the test's directory, into out (n bytes). */
static void expand(const char *s, char *out, size_t n)
{
	char *o = out;

	for (; *s && o + sizeof(dir) + 1 < out + n; s++)
		o += *s == 'D' ? sprintf(o, "%s", dir) : (*o = *s, 1);
	*o = 0;
}

const char *t_file_tools(void)
{
	static const struct { const char *line, *want; int status; } steps[] = {
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
		{ "cat > /x", "sh: /x: Read-only file system\n", 1 },
		{ "mv D/a /a", "mv: D/a -> /a: Cross-device link\n", 1 },
	};
	char line[256], want[256], got[1024], out[64];
	const char *err;

	if ((err = workdir("tools")))
		return err;
	snprintf(out, sizeof(out), "/tmp/%s.tools.out", prefix);
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		expand(steps[i].line, line, sizeof(line));
		expand(steps[i].want, want, sizeof(want));
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
	rmtree(dir);
	return NULL;
}
