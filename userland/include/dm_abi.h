/*
 * What dmos programs and the kernel pass each other through system calls,
 * beyond plain integers: constants and fixed-layout structures. The kernel
 * includes this file as "userland/include/dm_abi.h", programs get it
 * through <dm.h>. Plain C with fixed-width types: no libc in here.
 *
 * The call numbers and the register convention are in kernel/sysnum.h.
 *
 * Errors: a failing call returns a negative errno with Linux's numbers
 * (kernel/errno.h). 1..34 are the same in newlib; for the others libc
 * maps them to newlib's numbers (userland/libc/errno.c).
 */
#ifndef DM_ABI_H
#define DM_ABI_H

#include <stdint.h>

/* Placement for SYS_dm_alloc, and the answer of SYS_dm_where (mm/vm.h's VM_PLACE_*). */
#define DM_LOCAL        1       /* this node's DRAM: fast, private to the node */
#define DM_POOL         2       /* the pool: large, shareable, survives the node */
#define DM_ANY          3       /* the kernel decides (transparent allocation) */

/* Flags for SYS_dm_alloc. */
#define DM_OPTIONAL     0x1     /* not vital: if it is lost the program gets an error, not death */

#define DM_NODE_ANY     (-1)    /* SYS_spawn: let the cluster choose the node */
#define DM_ARGS_MAX     16      /* SYS_spawn: arguments a program is given, argv[0] included */
#define DM_NAME_MAX     32      /* process names, segment names, cluster id: bytes with the NUL */

/* Clocks for SYS_clock_ns. */
#define DM_CLOCK_MONOTONIC 0    /* ns since this node booted */
#define DM_CLOCK_REALTIME  1    /* ns since 1970-01-01 UTC */

/*
 * Files. Names: a path is at most DM_PATH_MAX bytes with its NUL, each
 * component at most DM_FILENAME_MAX bytes (the cluster file system's
 * limit, fs/format.h's FS_NAME_MAX); longer ones fail with ENAMETOOLONG.
 * A process has DM_OPEN_MAX descriptors; it starts with 0, 1 and 2 as its
 * parent's (the console for what the monitor or init starts).
 */
#define DM_PATH_MAX     1024
#define DM_FILENAME_MAX 120
#define DM_OPEN_MAX     256     /* enough for a server with a few hundred connections */

/* Flags for SYS_open: Linux's values; libc translates newlib's O_* to these.
 * Other bits are refused (EINVAL). */
#define DM_O_RDONLY     00
#define DM_O_WRONLY     01
#define DM_O_RDWR       02
#define DM_O_ACCMODE    03
#define DM_O_CREAT      0100
#define DM_O_EXCL       0200
#define DM_O_TRUNC      01000
#define DM_O_APPEND     02000
#define DM_O_NONBLOCK   04000           /* sockets: calls that would wait fail with EAGAIN */
#define DM_O_DIRECTORY  0200000         /* fail with ENOTDIR unless it is a directory */
#define DM_O_NOFOLLOW   0400000         /* accepted: there are no symbolic links */
#define DM_O_CLOEXEC    02000000        /* the descriptor's DM_FD_CLOEXEC */

/* File types in dm_stat.mode (the same bits in Linux and newlib); the
 * permission bits below them are kept and reported, never enforced
 * (there is one user, uid 0). */
#define DM_S_IFMT       0170000
#define DM_S_IFDIR      0040000
#define DM_S_IFCHR      0020000
#define DM_S_IFREG      0100000
#define DM_S_IFSOCK     0140000
#define DM_S_PERM       07777

/* SYS_access: what to check (Linux's values) */
#define DM_F_OK         0
#define DM_X_OK         1
#define DM_W_OK         2
#define DM_R_OK         4

/* SYS_lseek */
#define DM_SEEK_SET     0
#define DM_SEEK_CUR     1
#define DM_SEEK_END     2

/* SYS_fcntl commands and flags: Linux's values; libc translates newlib's. */
#define DM_F_DUPFD      0               /* (fd, F_DUPFD, min) -> the lowest free fd >= min */
#define DM_F_GETFD      1               /* -> DM_FD_CLOEXEC or 0 */
#define DM_F_SETFD      2
#define DM_F_GETFL      3               /* -> access mode | DM_O_APPEND | DM_O_NONBLOCK */
#define DM_F_SETFL      4               /* sets DM_O_APPEND and DM_O_NONBLOCK; the rest is ignored */
#define DM_F_GETLK      5               /* (fd, cmd, struct dm_flock *) */
#define DM_F_SETLK      6
#define DM_F_SETLKW     7               /* waits; EINTR if killed, EDEADLK on a cycle */
#define DM_F_DUPFD_CLOEXEC 1030
#define DM_FD_CLOEXEC   1               /* dmos has no exec: kept and reported only */

/* Byte-range locks (POSIX record locks): owned by a process, released when
 * it closes any descriptor of the file, or exits. */
#define DM_F_RDLCK      0
#define DM_F_WRLCK      1
#define DM_F_UNLCK      2

struct dm_flock {
	int16_t type;                   /* DM_F_RDLCK, DM_F_WRLCK, DM_F_UNLCK */
	int16_t whence;                 /* DM_SEEK_* for start */
	uint32_t pad;
	int64_t start;
	int64_t len;                    /* 0: to the end of the file, however it grows;
					   negative: the bytes before start */
	int32_t pid;                    /* DM_F_GETLK: who holds the conflicting lock */
	uint32_t pad2;
};

/*
 * SYS_getdents: directory entries, packed one after the other in the
 * caller's buffer. Each record starts 8-byte aligned; reclen is its size,
 * name is NUL-terminated (namelen bytes before the NUL). Every directory
 * lists "." and ".." first.
 */
#define DM_DT_CHR       2               /* the values of Linux's DT_* */
#define DM_DT_DIR       4
#define DM_DT_REG       8

struct dm_dirent {
	uint64_t ino;
	uint16_t reclen;
	uint8_t type;                   /* DM_DT_* */
	uint8_t namelen;
	char name[];
};

#define DM_DIRENT_SIZE(namelen) \
	((__builtin_offsetof(struct dm_dirent, name) + (namelen) + 1 + 7) & ~7UL)

/* SYS_utimens: times[0] atime, times[1] mtime, in ns since 1970; DM_UTIME_NOW:
 * now; DM_UTIME_OMIT: leave it. A NULL times sets both to now. */
#define DM_UTIME_NOW    (-1LL)
#define DM_UTIME_OMIT   (-2LL)

/* SYS_spawn's fds: the child's 0, 1 and 2 are these descriptors of the
 * parent (DM_FD_NONE: closed in the child). */
#define DM_FD_NONE      (-1)

/*
 * Exit status as SYS_wait reports it: POSIX's encoding, so newlib's
 * WIFEXITED()/WEXITSTATUS()/WTERMSIG() work unchanged.
 */
#define DM_WAIT_EXITED(code)    (((code) & 0xff) << 8)  /* exit(code) or return from main */
#define DM_WAIT_KILLED(sig)     ((sig) & 0x7f)          /* killed: signal number, e.g. DM_SIGKILL */

/*
 * Signals: SYS_kill takes 0 (only check the pid) .. DM_NSIG - 1, and every
 * one ends the process (no handlers). The kernel ends processes itself
 * with the ones below, numbered as the programs' C library (newlib's
 * <signal.h>) numbers them, so WTERMSIG(status) == SIGBUS works in a
 * program; userland/libc/posix.c checks at build time that they agree.
 */
#define DM_NSIG         64
#define DM_SIGKILL      9       /* kill's default; no memory to be had; its node died */
#define DM_SIGBUS       10      /* it lost vital memory (its pool region failed) */
#define DM_SIGSEGV      11      /* a bad address or another CPU exception */

/*
 * Sockets (SYS_socket .. SYS_getpeername, kernel/sysnum.h): Linux's
 * numbers and layouts, so the POSIX headers of userland/include (which
 * spell them AF_INET, SOCK_STREAM, ...) are these; libc/socket.c checks
 * that they agree. AF_INET only, TCP and UDP.
 */
#define DM_AF_UNSPEC    0
#define DM_AF_INET      2
#define DM_SOCK_STREAM  1
#define DM_SOCK_DGRAM   2
#define DM_SOCK_NONBLOCK 04000          /* or'ed into socket()'s type, accept4()'s flags */
#define DM_SOCK_CLOEXEC 02000000
#define DM_IPPROTO_TCP  6
#define DM_IPPROTO_UDP  17

/* setsockopt/getsockopt: levels and names */
#define DM_SOL_SOCKET   1
#define DM_SO_REUSEADDR 2               /* int */
#define DM_SO_TYPE      3               /* int, get only */
#define DM_SO_ERROR     4               /* int, get only: the pending error, cleared */
#define DM_SO_SNDBUF    7               /* int: the fixed buffer sizes; a set is accepted, ignored */
#define DM_SO_RCVBUF    8
#define DM_SO_KEEPALIVE 9               /* int */
#define DM_SO_RCVTIMEO  20              /* struct dm_timeval; zero: wait for ever */
#define DM_SO_SNDTIMEO  21
#define DM_TCP_NODELAY  1               /* level DM_IPPROTO_TCP, int */

/* sendto/recvfrom flags */
#define DM_MSG_OOB      0x1             /* refused: EOPNOTSUPP */
#define DM_MSG_PEEK     0x2
#define DM_MSG_TRUNC    0x20            /* UDP recvfrom: return the datagram's whole length */
#define DM_MSG_DONTWAIT 0x40
#define DM_MSG_WAITALL  0x100           /* TCP recvfrom: wait for all n bytes (or the end, an error) */
#define DM_MSG_NOSIGNAL 0x4000          /* accepted: dmos sends no SIGPIPE, EPIPE only */
#define DM_MSG_MORE     0x8000          /* TCP: more data follows, hold a partial segment */

#define DM_SHUT_RD      0
#define DM_SHUT_WR      1
#define DM_SHUT_RDWR    2

#define DM_SOMAXCONN    128             /* listen()'s backlog is capped at this */

struct dm_sockaddr_in {                 /* Linux's struct sockaddr_in */
	uint16_t family;                /* DM_AF_INET */
	uint16_t port;                  /* network byte order */
	uint32_t addr;                  /* network byte order */
	uint8_t zero[8];
};

struct dm_timeval {                     /* Linux's struct timeval on x86_64 */
	int64_t sec;
	int64_t usec;
};

/* SYS_poll: Linux's struct pollfd and event bits */
struct dm_pollfd {
	int32_t fd;                     /* negative: ignored, revents 0 */
	int16_t events;
	int16_t revents;
};

#define DM_POLLIN       0x001
#define DM_POLLPRI      0x002           /* never: there is no urgent data */
#define DM_POLLOUT      0x004
#define DM_POLLERR      0x008           /* always reported, never asked for */
#define DM_POLLHUP      0x010           /* ditto */
#define DM_POLLNVAL     0x020           /* ditto: fd is not open */
#define DM_POLLRDNORM   0x040           /* the same as DM_POLLIN */
#define DM_POLLWRNORM   0x100           /* the same as DM_POLLOUT */
#define DM_POLL_MAX     1024            /* descriptors one poll may name */

/* SYS_fstat, SYS_stat */
struct dm_stat {
	uint64_t dev, ino;
	uint32_t mode;                  /* DM_S_IF* | permission bits */
	uint32_t nlink;
	uint64_t size;                  /* bytes */
	uint64_t blocks;                /* 512-byte blocks */
	uint32_t blksize;               /* preferred I/O size */
	uint32_t pad;
	int64_t atime_ns, mtime_ns, ctime_ns;   /* since 1970 */
};

/* Process states in dm_proc.state (sched/sched.h's enum proc_state). */
#define DM_PROC_RUNNABLE 1
#define DM_PROC_RUNNING  2
#define DM_PROC_SLEEPING 3
#define DM_PROC_ZOMBIE   4

/* SYS_ps: one process of the cluster. */
struct dm_proc {
	int32_t pid;                    /* cluster-wide */
	int32_t ppid;
	int32_t node;                   /* where it runs */
	int32_t state;                  /* DM_PROC_* */
	char name[DM_NAME_MAX];         /* program name, NUL-terminated */
	uint64_t local_pages;           /* 4 KiB pages it holds in its node's DRAM */
	uint64_t pool_pages;            /* ... and in the pool */
};

/* SYS_meminfo: bytes, as seen from the calling node. */
struct dm_meminfo {
	uint64_t local_total;           /* this node's DRAM */
	uint64_t local_free;
	uint64_t pool_total;            /* the whole pool (online regions) */
	uint64_t pool_free;
	uint64_t pool_used_here;        /* pool bytes this node's processes and kernel hold */
	uint64_t pool_failed;           /* pool bytes in regions that failed */
	uint32_t regions_failed;        /* regions of the pool that failed */
	uint32_t pool_link;             /* 1: this node reaches the pool; 0: it has none or lost it */
};

/* SYS_fsinfo: the cluster file system as the calling node sees it; the
 * counters are this node's, since it booted. */
struct dm_fsinfo {
	uint32_t mounted;               /* 1: dmosfs is mounted at "/" */
	uint32_t cache_sets;            /* sets of 8 slots of the page cache in the pool */
	uint64_t disk_reads, disk_read_bytes;   /* requests to the shared disk */
	uint64_t disk_writes, disk_write_bytes;
	uint64_t cache_hits, cache_misses;      /* lookups in the page cache */
	uint64_t cache_fills;           /* pages it read from the disk into the cache */
	uint64_t cache_fill_waits;      /* misses another node was already filling */
	uint64_t cache_evictions, cache_writebacks;
	uint64_t cache_lost;            /* dirty pages a region failure took */
	uint64_t disk_flushes, disk_errors;     /* errors: requests that failed */
};

/* SYS_nodeinfo */
struct dm_nodeinfo {
	int32_t node;                   /* this node's id, 0 .. nodes-1 */
	int32_t nodes;                  /* size of the cluster */
	char cluster[DM_NAME_MAX];      /* cluster id, NUL-terminated */
};

/*
 * The exception a program takes when optional memory it holds is lost
 * (its pool region failed): what dm_on_loss()'s handler is given. The lost
 * pages read as zero from now on; the program rebuilds what it kept there.
 */
#define DM_LOSS_LINK 0xFFFFFFFFu        /* dm_loss.region: the node's link to the pool went down */

struct dm_loss {
	uint64_t addr;                  /* the lowest lost address */
	uint64_t bytes;                 /* bytes lost (whole pages) since the last exception */
	uint32_t region;                /* the failed region that held addr, or
					   DM_LOSS_LINK: this node lost the pool */
	uint32_t pad;
	uint64_t total;                 /* optional bytes this process has lost in all */
};

_Static_assert(sizeof(struct dm_loss) == 32, "dm_loss layout is ABI");
_Static_assert(sizeof(struct dm_flock) == 32, "dm_flock layout is ABI");
_Static_assert(__builtin_offsetof(struct dm_dirent, name) == 12, "dm_dirent layout is ABI");
_Static_assert(sizeof(struct dm_stat) == 72, "dm_stat layout is ABI");
_Static_assert(sizeof(struct dm_proc) == 64, "dm_proc layout is ABI");
_Static_assert(sizeof(struct dm_meminfo) == 56, "dm_meminfo layout is ABI");
_Static_assert(sizeof(struct dm_nodeinfo) == 40, "dm_nodeinfo layout is ABI");
_Static_assert(sizeof(struct dm_fsinfo) == 112, "dm_fsinfo layout is ABI");

#endif
