/*
 * httpd: a small HTTP/1.1 server for dmos, meant to run on any number of
 * nodes at once behind the cluster IP. One process, one thread, an event
 * loop over poll() with non-blocking sockets; portable POSIX, so the same
 * file also builds against glibc on the host for the host tests.
 *
 *   httpd [-p PORT] [-r DIR] [-c CONNS] [-t SECS]
 *     -p PORT   port to listen on (default 80)
 *     -r DIR    document root (default /www, on the cluster file system)
 *     -c CONNS  connections open at once, 1..1024 (default 256; past that
 *               the listener is not polled and new ones wait in its backlog).
 *               Fewer if the process has not that many descriptors: 8 stay
 *               for files (a dmos process has 256: DM_OPEN_MAX)
 *     -t SECS   idle timeout of a connection, 1..3600 (default 15)
 *
 * What it serves:
 *   GET and HEAD of regular files under DIR, Content-Type by extension,
 *   Content-Length and Last-Modified; a directory's index.html (a directory
 *   named without its trailing '/' is redirected there, 301); no listings.
 *   /status: text/plain, the node that served it (dm_node()), pid, uptime,
 *   requests served by this process, connections open and accepted.
 *   /work?n=N: N rounds (1..100000000) of xorshift64 from a fixed seed,
 *   the result as hex: a CPU-bound request for scaling benchmarks.
 *   Every response names its node in an X-Node header.
 *
 * The protocol: HTTP/1.1 connections stay open unless the request says
 * "Connection: close"; HTTP/1.0 ones close unless it says keep-alive.
 * Pipelined requests are answered in order: the next request is parsed
 * only when the previous response has been sent, which also bounds what a
 * connection buffers. A request body (Content-Length, at most 64 KiB) is
 * read and dropped; Transfer-Encoding in a request is 501.
 *   400  malformed request line or header field, missing Host in 1.1,
 *        bad percent-encoding, a path that climbs above the root ("..")
 *   404  no such file (or not a regular file)
 *   405  a method other than GET and HEAD (with Allow)
 *   413  a request body over 64 KiB
 *   414  a request line over 4 KiB, or a decoded path over 1000 bytes
 *   431  a header over 8 KiB in all, or more than 64 header fields
 *   505  an HTTP major version other than 1
 * After 400, 413, 414, 431, 501 and 505 the connection is closed: the
 * write side first, then what the client still sends is read and dropped
 * for up to 2 s (a lingering close, so the client reads the error rather
 * than a reset).
 *
 * Output: "httpd: node N listening on port P, root DIR" once listening;
 * on SIGTERM/SIGINT (hosts only: srv.h) one line of counts at exit.
 * Symbolic links are not treated specially: dmos has none, and on a host
 * the document root is the test's own directory.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "dm.h"
#include "srv.h"

#define PROG            "httpd"
#define HEAD_MAX        8192            /* request line and header fields */
#define REQLINE_MAX     4096
#define FIELDS_MAX      64
#define PATH_LIMIT      1000            /* decoded path; within DM_PATH_MAX with the root */
#define BODY_MAX        65536
#define OUT_CAP         16384
#define WORK_MAX        100000000L
#define LINGER_MS       2000
#define FILE_FDS        8               /* descriptors kept for files being sent */

struct conn {
	int fd;
	uint64_t last_ms;               /* last read or write */
	char in[HEAD_MAX];
	size_t in_len;
	uint64_t discard;               /* body bytes of the last request still to drop */
	char out[OUT_CAP];
	size_t out_len, out_off;
	int file;                       /* what is still to be sent after out, or -1 */
	uint64_t file_left;
	int close_after;                /* close once this response is out */
	int peer_done;                  /* the client closed its side */
	int lingering;                  /* our write side is shut: drain until EOF */
	uint64_t linger_until;
};

/* A parsed request. */
struct req {
	int head;                       /* HEAD: headers only */
	int minor;                      /* HTTP/1.minor */
	int keep;                       /* keep the connection after this one */
};

static struct {
	const char *root;
	int port, conn_max, idle_ms, node;
	uint64_t start_ms;
	uint64_t requests, errors;
} srv;

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default:  return "Internal Server Error";
	}
}

static const struct { const char *ext, *type; } types[] = {
	{ "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
	{ "txt", "text/plain; charset=utf-8" }, { "css", "text/css" },
	{ "js", "text/javascript" }, { "json", "application/json" },
	{ "xml", "application/xml" }, { "svg", "image/svg+xml" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "ico", "image/x-icon" }, { "webp", "image/webp" },
	{ "pdf", "application/pdf" }, { "wasm", "application/wasm" },
	{ "gz", "application/gzip" }, { "tar", "application/x-tar" },
};

static const char *content_type(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* t as an HTTP date (RFC 9110's IMF-fixdate) into buf of 32 bytes. */
static void http_date(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The Date header's value, formatted again at most once a second. */
static const char *date_now(void)
{
	static char buf[32];
	static time_t cached = -1;
	time_t now = time(NULL);

	if (now != cached) {
		cached = now;
		http_date(now, buf);
	}
	return buf;
}

/*
 * The status line and the header fields every response has; the caller
 * adds its own fields after extra (a string of whole "Name: value\r\n"
 * lines, or "") and the blank line comes here.
 */
static void start_response(struct conn *c, const struct req *r, int code, const char *type,
			   uint64_t length, const char *extra)
{
	srv.requests++;
	if (code >= 400)
		srv.errors++;
	srv_append(c->out, &c->out_len, OUT_CAP, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: dmos-httpd\r\nX-Node: %d\r\n"
		   "Content-Type: %s\r\nContent-Length: %llu\r\n%s",
		   code, reason(code), date_now(), srv.node, type, (unsigned long long)length, extra);
	if (!r->keep)
		srv_append(c->out, &c->out_len, OUT_CAP, "Connection: close\r\n\r\n");
	else if (r->minor == 0)
		srv_append(c->out, &c->out_len, OUT_CAP, "Connection: keep-alive\r\n\r\n");
	else
		srv_append(c->out, &c->out_len, OUT_CAP, "\r\n");
	if (!r->keep)
		c->close_after = 1;
}

/* A small text response with its body (none for HEAD). */
static void respond_text(struct conn *c, const struct req *r, int code, const char *extra,
			 const char *body)
{
	start_response(c, r, code, "text/plain; charset=utf-8", strlen(body), extra);
	if (!r->head)
		srv_append(c->out, &c->out_len, OUT_CAP, "%s", body);
}

static void respond_error(struct conn *c, struct req *r, int code)
{
	char body[64];

	/* These leave the framing of what follows in doubt: close after. */
	if (code == 400 || code == 413 || code == 414 || code == 431 || code == 501 || code == 505)
		r->keep = 0;
	snprintf(body, sizeof(body), "%d %s\n", code, reason(code));
	respond_text(c, r, code, code == 405 ? "Allow: GET, HEAD\r\n" : "", body);
}

static void respond_status(struct conn *c, const struct req *r)
{
	char body[512];
	uint64_t up = srv_now_ms() - srv.start_ms;

	snprintf(body, sizeof(body),
		 "node %d\npid %d\nuptime %llu.%03llu s\nrequests %llu\n"
		 "connections %d open, %llu accepted\n",
		 srv.node, (int)getpid(), (unsigned long long)(up / 1000),
		 (unsigned long long)(up % 1000), (unsigned long long)srv.requests + 1,
		 srv_open, (unsigned long long)srv_accepted);
	respond_text(c, r, 200, "Cache-Control: no-store\r\n", body);
}

/* n rounds of xorshift64 (Marsaglia's 13, 7, 17) from a fixed seed. */
static uint64_t work(long n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

static void respond_work(struct conn *c, struct req *r, const char *query)
{
	char body[96], *end;
	long n = -1;

	/* The query's n=DIGITS, among '&'-separated parameters. */
	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, "n=", 2) || !isdigit((unsigned char)p[2]))
			continue;
		errno = 0;
		n = strtol(p + 2, &end, 10);
		if (errno || (*end && *end != '&') || n < 1 || n > WORK_MAX)
			n = -1;
		break;
	}
	if (n < 0) {
		snprintf(body, sizeof(body), "400 Bad Request: want /work?n=N, N from 1 to %ld\n", WORK_MAX);
		respond_text(c, r, 400, "", body);
		return;
	}
	snprintf(body, sizeof(body), "work n=%ld result=%016llx node %d\n", n,
		 (unsigned long long)work(n), srv.node);
	respond_text(c, r, 200, "Cache-Control: no-store\r\n", body);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * The request target's path, percent-decoded and normalized into out
 * (PATH_LIMIT + 1 bytes): empty and "." segments dropped, ".." taking the
 * one before it away. *query: what followed '?', or NULL; *dir: the path
 * ended with '/'. Return: 0, or the status to answer: 400 (not a path,
 * bad encoding, a control byte, ".." above the root), 414 (too long).
 */
static int target_path(char *target, char *out, const char **query, int *dir)
{
	char dec[PATH_LIMIT + 1];
	size_t n = 0, o = 0;
	char *q;

	/* absolute-form: http://host/path */
	if (!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8)) {
		target = strstr(target, "//") + 2;
		target += strcspn(target, "/?");
		if (*target != '/') {           /* no path: the root */
			static char slash[] = "/";
			if (*target == '?')
				*query = target + 1;
			target = slash;
		}
	}
	if (*target != '/')
		return 400;
	if ((q = strchr(target, '?'))) {
		*q = 0;
		*query = q + 1;
	}
	for (const char *p = target; *p; p++) {
		int ch = (unsigned char)*p;
		if (ch == '%') {
			int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
			if (lo < 0)
				return 400;
			ch = hi * 16 + lo;
			p += 2;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '#')
			return 400;
		if (n == PATH_LIMIT)
			return 414;
		dec[n++] = (char)ch;
	}
	dec[n] = 0;
	*dir = n > 0 && dec[n - 1] == '/';

	/* Normalize, segment by segment. */
	for (char *seg = dec + 1, *next; seg; seg = next) {
		size_t len;
		if ((next = strchr(seg, '/')))
			*next++ = 0;
		len = strlen(seg);
		if (!len || !strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			if (!o)
				return 400;     /* above the root */
			while (o > 0 && out[--o] != '/')
				;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, seg, len);
		o += len;
	}
	if (!o)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

/* GET or HEAD of a file under the root. */
static void respond_file(struct conn *c, struct req *r, const char *path, int dir)
{
	char full[DM_PATH_MAX + 16], lm[32], extra[64 + DM_PATH_MAX];
	struct stat st;
	int fd = -1;

	snprintf(full, sizeof(full), "%s%s", srv.root, path);
	if (stat(full, &st) < 0) {
		respond_error(c, r, errno == EACCES ? 403 : errno == ENOENT || errno == ENOTDIR ||
			      errno == ENAMETOOLONG ? 404 : 500);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!dir) {
			snprintf(extra, sizeof(extra), "Location: %s/\r\n", path);
			respond_text(c, r, 301, extra, "301 Moved Permanently\n");
			return;
		}
		snprintf(full, sizeof(full), "%s%s%sindex.html", srv.root, path, strcmp(path, "/") ? "/" : "");
		if (stat(full, &st) < 0) {
			respond_error(c, r, errno == EACCES ? 403 : 404);
			return;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		respond_error(c, r, 404);
		return;
	}
	if (!r->head) {
		if ((fd = open(full, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
			int err = errno;
			if (fd >= 0)
				close(fd);
			respond_error(c, r, err == EACCES ? 403 : err == ENOENT ? 404 :
				      err == EMFILE || err == ENFILE ? 503 : 500);
			return;
		}
	}
	http_date(st.st_mtime, lm);
	snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n", lm);
	start_response(c, r, 200, content_type(full), (uint64_t)st.st_size, extra);
	if (fd >= 0 && st.st_size > 0) {
		c->file = fd;
		c->file_left = (uint64_t)st.st_size;
	} else if (fd >= 0) {
		close(fd);
	}
}

/* Whether the comma-separated tokens of v include tok (case-insensitive). */
static int has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v) {
		v += strspn(v, " \t,");
		if (!strncasecmp(v, tok, n) && (!v[n] || strchr(" \t,", v[n])))
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

static int is_tchar(int ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Where the header that starts buf ends (past its blank line), or 0 while it is not all there. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line of a header at *p (NUL-terminated, without its CR LF); *p moves past it. */
static char *next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');

	*nl = 0;
	*p = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl[-1] = 0;
	return line;
}

/*
 * Parse the request at the front of c->in and queue its response.
 * Return: 1 when one was handled (and its bytes consumed), 0 when more
 * bytes are needed.
 */
static int handle_request(struct conn *c)
{
	struct req r = { .keep = 0, .minor = 1 };
	char head[HEAD_MAX + 1], path[PATH_LIMIT + 1], *p, *line, *method, *target, *version;
	const char *query = NULL;
	size_t end, skip = 0;
	long long clen = -1;
	int fields = 0, hosts = 0, te = 0, close_tok = 0, keep_tok = 0, dir = 0, code;

	/* Empty lines before a request line are ignored (RFC 9112, 2.2). */
	while (skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n'))
		skip++;
	if (skip) {
		memmove(c->in, c->in + skip, c->in_len - skip);
		c->in_len -= skip;
	}
	if (!(end = head_end(c->in, c->in_len))) {
		void *nl = memchr(c->in, '\n', c->in_len);
		if ((!nl && c->in_len > REQLINE_MAX) || (nl && (char *)nl - c->in > REQLINE_MAX)) {
			respond_error(c, &r, 414);
			return 1;
		}
		if (c->in_len == HEAD_MAX) {
			respond_error(c, &r, 431);
			return 1;
		}
		return 0;
	}
	memcpy(head, c->in, end);
	head[end] = 0;
	memmove(c->in, c->in + end, c->in_len - end);
	c->in_len -= end;
	p = head;

	/* The request line: METHOD SP TARGET SP HTTP/1.x */
	line = next_line(&p);
	if (strlen(line) > REQLINE_MAX) {
		respond_error(c, &r, 414);
		return 1;
	}
	method = line;
	if (!(target = strchr(method, ' ')) || !(version = strchr(target + 1, ' '))) {
		respond_error(c, &r, 400);
		return 1;
	}
	*target++ = 0;
	*version++ = 0;
	for (const char *m = method; *m; m++)
		if (!is_tchar((unsigned char)*m))
			method = "";
	if (!*method || !*target || strncmp(version, "HTTP/", 5) || !isdigit((unsigned char)version[5]) ||
	    version[6] != '.' || !isdigit((unsigned char)version[7]) || version[8]) {
		respond_error(c, &r, 400);
		return 1;
	}
	if (version[5] != '1') {
		respond_error(c, &r, 505);
		return 1;
	}
	r.minor = version[7] - '0';
	r.head = !strcmp(method, "HEAD");

	/* Header fields: NAME ":" OWS VALUE OWS */
	while (*p) {
		char *name = next_line(&p), *colon, *v, *e;
		if (!*name)
			break;
		if (++fields > FIELDS_MAX) {
			respond_error(c, &r, 431);
			return 1;
		}
		if (!(colon = strchr(name, ':')) || colon == name) {
			respond_error(c, &r, 400);
			return 1;
		}
		for (char *n = name; n < colon; n++)
			if (!is_tchar((unsigned char)*n)) {    /* also folded lines, spaces before ':' */
				respond_error(c, &r, 400);
				return 1;
			}
		*colon = 0;
		v = colon + 1 + strspn(colon + 1, " \t");
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = 0;
		if (!strcasecmp(name, "Host")) {
			hosts++;
		} else if (!strcasecmp(name, "Connection")) {
			close_tok |= has_token(v, "close");
			keep_tok |= has_token(v, "keep-alive");
		} else if (!strcasecmp(name, "Transfer-Encoding")) {
			te = 1;
		} else if (!strcasecmp(name, "Content-Length")) {
			char *ce;
			long long l;
			errno = 0;
			l = strtoll(v, &ce, 10);
			if (!isdigit((unsigned char)*v) || *ce || errno || (clen >= 0 && l != clen)) {
				respond_error(c, &r, 400);
				return 1;
			}
			clen = l;
		}
	}
	r.keep = r.minor >= 1 ? !close_tok : keep_tok && !close_tok;
	if (r.minor >= 1 && hosts != 1) {
		respond_error(c, &r, 400);
		return 1;
	}
	if (te) {
		respond_error(c, &r, 501);
		return 1;
	}
	if (clen > BODY_MAX) {
		respond_error(c, &r, 413);
		return 1;
	}
	if (clen > 0)
		c->discard = (uint64_t)clen;
	if (!r.head && strcmp(method, "GET")) {
		respond_error(c, &r, 405);
		return 1;
	}
	if ((code = target_path(target, path, &query, &dir))) {
		respond_error(c, &r, code);
		return 1;
	}
	if (!strcmp(path, "/status"))
		respond_status(c, &r);
	else if (!strcmp(path, "/work"))
		respond_work(c, &r, query);
	else
		respond_file(c, &r, path, dir);
	return 1;
}

static int pending(const struct conn *c)
{
	return c->out_off < c->out_len || c->file >= 0;
}

/*
 * Drop what is left of a request body, then answer the next buffered
 * request if nothing is being sent. Return: 1 if a response was queued.
 */
static int process(struct conn *c)
{
	if (c->discard) {
		size_t n = c->discard < c->in_len ? (size_t)c->discard : c->in_len;
		memmove(c->in, c->in + n, c->in_len - n);
		c->in_len -= n;
		c->discard -= n;
	}
	if (pending(c) || c->close_after || c->discard || !c->in_len)
		return 0;
	return handle_request(c);
}

/*
 * Send what is queued, refilling from the file. Return: 0, or -1 when the
 * connection is to be closed now.
 */
static int flush(struct conn *c)
{
	for (;;) {
		if (c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
		/* The file after what is queued: a small file goes out with its header, in one send. */
		if (c->file >= 0 && c->out_len < OUT_CAP) {
			size_t room = OUT_CAP - c->out_len;
			size_t want = c->file_left < room ? (size_t)c->file_left : room;
			ssize_t n = read(c->file, c->out + c->out_len, want);
			if (n <= 0)
				return -1;      /* the file shrank or failed: the length was promised */
			c->out_len += (size_t)n;
			if (!(c->file_left -= (uint64_t)n)) {
				close(c->file);
				c->file = -1;
			}
		}
		if (c->out_off == c->out_len)
			break;
		if (srv_send(c->fd, c->out, &c->out_off, c->out_len, &c->last_ms) < 0)
			return -1;
		if (c->out_off < c->out_len)
			return 0;       /* the socket is full */
	}
	c->out_off = c->out_len = 0;
	if (c->close_after && !c->lingering) {
		if (c->peer_done)
			return -1;
		shutdown(c->fd, SHUT_WR);
		c->lingering = 1;
		c->linger_until = srv_now_ms() + LINGER_MS;
	}
	return 0;
}

/*
 * Answer and send, request after request, until a response is waiting for
 * the socket to drain or no whole request is buffered. Return: 0, or -1
 * to close the connection.
 */
static int drive(struct conn *c)
{
	int more;

	do {
		more = process(c);
		if (flush(c) < 0)
			return -1;
	} while (more && !pending(c) && !c->lingering);
	/* The client is gone and nothing more will come to answer. */
	return c->peer_done && !pending(c) && !c->lingering ? -1 : 0;
}

/* Readable (or hung up). Return: 0, or -1 to close. */
static int on_read(struct conn *c)
{
	char drop[4096];
	ssize_t n;

	if (c->lingering) {
		while ((n = recv(c->fd, drop, sizeof(drop), 0)) > 0)
			;
		return n == 0 || !srv_again() ? -1 : 0;
	}
	while (c->in_len < HEAD_MAX) {
		n = recv(c->fd, c->in + c->in_len, HEAD_MAX - c->in_len, 0);
		if (n == 0) {
			c->peer_done = 1;
			break;
		}
		if (n < 0) {
			if (srv_again())
				break;
			return -1;
		}
		c->in_len += (size_t)n;
		c->last_ms = srv_now_ms();
		if (c->discard)
			process(c);     /* a body to drop may be larger than the buffer */
	}
	return drive(c);
}

static void *conn_open(int fd)
{
	struct conn *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->file = -1;
	c->in_len = c->out_len = c->out_off = 0;
	c->discard = c->file_left = 0;
	c->close_after = c->peer_done = c->lingering = 0;
	c->last_ms = srv_now_ms();
	return c;
}

static short conn_events(void *state)
{
	struct conn *c = state;
	short ev = 0;

	if (c->lingering || (c->in_len < HEAD_MAX && !c->peer_done))
		ev |= POLLIN;
	if (!c->lingering && pending(c))
		ev |= POLLOUT;
	return ev;
}

static uint64_t conn_deadline(void *state)
{
	struct conn *c = state;

	return c->lingering ? c->linger_until : c->last_ms + (uint64_t)srv.idle_ms;
}

static int conn_ready(void *state, short revents)
{
	struct conn *c = state;

	if ((revents & (POLLIN | POLLHUP | POLLERR)) && on_read(c) < 0)
		return -1;
	return revents & POLLOUT ? drive(c) : 0;
}

static void conn_free(void *state)
{
	struct conn *c = state;

	if (c->file >= 0)
		close(c->file);
	free(c);
}

static const struct srv_ops http_ops = { conn_open, conn_events, conn_deadline, conn_ready, conn_free };

static int usage(void)
{
	fprintf(stderr, "usage: " PROG " [-p PORT] [-r DIR] [-c CONNS] [-t SECS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int lfd, opt, status, room;

	srv.root = "/www";
	srv.port = 80;
	srv.conn_max = 256;
	srv.idle_ms = 15000;
	while ((opt = getopt(argc, argv, "p:r:c:t:")) != -1) {
		switch (opt) {
		case 'p': srv.port = (int)srv_number(PROG, opt, optarg, 1, 65535); break;
		case 'r': srv.root = optarg; break;
		case 'c': srv.conn_max = (int)srv_number(PROG, opt, optarg, 1, 1024); break;
		case 't': srv.idle_ms = (int)srv_number(PROG, opt, optarg, 1, 3600) * 1000; break;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	/* The root without its trailing '/': paths are appended with theirs. */
	{
		static char root[DM_PATH_MAX];
		size_t n = strlen(srv.root);
		struct stat st;
		if (n >= sizeof(root)) {
			fprintf(stderr, PROG ": -r %s: path too long\n", srv.root);
			return 2;
		}
		memcpy(root, srv.root, n + 1);
		while (n > 0 && root[n - 1] == '/')
			root[--n] = 0;
		if (stat(n ? root : "/", &st) < 0) {
			fprintf(stderr, PROG ": -r %s: %s\n", srv.root, strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, PROG ": -r %s: not a directory\n", srv.root);
			return 1;
		}
		srv.root = root;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srv_signals();
	srv.node = dm_node();
	srv.start_ms = srv_now_ms();
	if ((lfd = srv_listen(PROG, srv.port, 128)) < 0)
		return 1;
	/* Connections may take every descriptor but FILE_FDS, kept for files being sent. */
	if ((room = srv_fd_room(lfd, srv.conn_max + FILE_FDS)) < srv.conn_max + FILE_FDS) {
		srv.conn_max = room > FILE_FDS ? room - FILE_FDS : 1;
		printf(PROG ": %d descriptors free: at most %d connections at once\n", room, srv.conn_max);
	}
	printf(PROG ": node %d listening on port %d, root %s\n", srv.node, srv.port,
	       *srv.root ? srv.root : "/");
	status = srv_loop(PROG, lfd, srv.conn_max, &http_ops);
	printf(PROG ": node %d served %llu requests (%llu errors) on %llu connections in %llu s\n",
	       srv.node, (unsigned long long)srv.requests, (unsigned long long)srv.errors,
	       (unsigned long long)srv_accepted, (unsigned long long)((srv_now_ms() - srv.start_ms) / 1000));
	close(lfd);
	return status;
}
