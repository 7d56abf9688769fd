/*
 * BSD sockets for programs: AF_INET, TCP and UDP, over lwIP's raw API.
 * A socket is a file: a vnode of the "sock" file system below (no
 * directory holds it) in the process's descriptor table, so read, write,
 * poll, dup, close, spawn's fds and a process's exit work on it as on any
 * file; the socket calls of kernel/sysnum.h do the rest.
 *
 * Who runs lwIP: the network work (net/netif.c) for what arrives and for
 * the timers, and the system calls here for what programs ask. Neither
 * can interrupt the other: a node has one CPU, kernel code is never
 * preempted, no interrupt handler touches lwIP, and nothing here sleeps
 * inside an lwIP call, so each call into lwIP runs to its end alone.
 * lwIP's callbacks (data, room, a connection, an error) only change the
 * socket's state and wake whoever sleeps on it (sched_wakeup on the sock,
 * and poll_wake for poll()).
 *
 * Blocking: a call that must wait sleeps on its sock, with interrupts off
 * between the last look at the process's kill flag and the sleep, and
 * looks again when woken. A kill ends the wait with EINTR; SO_RCVTIMEO and
 * SO_SNDTIMEO end it with EAGAIN (connect: EINPROGRESS, as Linux);
 * DM_O_NONBLOCK and MSG_DONTWAIT fail at once with EAGAIN (connect:
 * EINPROGRESS, then POLLOUT and SO_ERROR).
 *
 * Buffers, all bounded:
 *   - TCP receive: lwIP's pbufs are kept on the socket as they come and
 *     tcp_recved() is told only what the program took, so a program that
 *     does not read closes the peer's window (TCP_WND) instead of filling
 *     memory. A small segment is copied out of its pool pbuf (a full frame
 *     of the pool for a few bytes would let slow readers drain the pool),
 *     and a queue of many pbufs is merged into one.
 *   - TCP send: the program's bytes go through a bounce buffer into
 *     tcp_write (lwIP copies them into its send queue, TCP_SND_BUF); a
 *     full queue puts the sender to sleep until lwIP says some was acked.
 *     The bounce buffer is one for the node: copy_from_user() may sleep
 *     only before its copy, and the copy and the tcp_write that follows it
 *     have no sleep between them.
 *   - UDP: a ring of UDP_QUEUE datagrams (UDP_RCVBUF bytes) per socket;
 *     past it datagrams are dropped and counted.
 *   - Accept: connections lwIP completed wait on their listener, at most
 *     the listen backlog (capped at DM_SOMAXCONN). They stay counted in
 *     lwIP's backlog (tcp_backlog_delayed) until accept() takes them, so
 *     lwIP drops SYNs past the backlog, half-open or not yet accepted.
 *
 * Closing: the last close of the file (close, exit, a kill, a crash all
 * end there) closes the connection gracefully (FIN after the queued data;
 * RST if received data was never read, as Linux), aborts connections a
 * listener never accepted, and frees the port. A close lwIP cannot do for
 * want of memory is retried from lwIP's poll callback by a "zombie" sock
 * that no file holds.
 *
 * The listener seam: a TCP socket that starts listening and a UDP socket
 * bound by bind() go through listener_opened(); both end in
 * listener_closed(), from the socket's release. Today they keep the list
 * the monitor's `net` prints; the cluster IP registers ports there.
 */
#include "kernel/kernel.h"
#include "arch/arch.h"
#include "sched/sched.h"
#include "mm/mm.h"
#include "fs/fs.h"
#include "fs/vfs.h"
#include "fs/file.h"
#include "net/net.h"
#include "net/socket.h"
#include "net/vip.h"
#include "userland/include/dm_abi.h"

#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#define SEND_CHUNK      (16 << 10)      /* bytes copied from a program per tcp_write */
#define RX_SMALL        512             /* a received segment this small leaves its pool pbuf */
#define RX_PBUFS_MAX    48              /* queued pbufs of a TCP socket before they are merged */
#define UDP_QUEUE       32              /* datagrams a UDP socket holds ... */
#define UDP_RCVBUF      (64 << 10)      /* ... and bytes */
#define UDP_MAX         65507           /* the largest UDP payload over IPv4 */
#define POLL_TICKS      1               /* lwIP's poll callback every 500 ms: retries */
#define ADDR_LEN        ((int32_t)sizeof(struct dm_sockaddr_in))
#define ADDR_LEN_MAX    128             /* struct sockaddr_storage: a longer one is refused */
#define SEND_FLAGS      (DM_MSG_DONTWAIT | DM_MSG_NOSIGNAL | DM_MSG_MORE)
#define RECV_FLAGS      (DM_MSG_PEEK | DM_MSG_TRUNC | DM_MSG_DONTWAIT | DM_MSG_WAITALL)

_Static_assert(TCP_WND <= 0xffff, "a TCP socket's receive queue is counted in a pbuf's u16");
_Static_assert(DM_SOMAXCONN <= 255, "lwIP's backlog is a u8");
_Static_assert(DM_SOCK_NONBLOCK == DM_O_NONBLOCK, "socket()'s flag is the file's");

enum sstate {
	SS_IDLE,                /* TCP: not connected (new, bound, or a connect failed); UDP: not connected */
	SS_LISTEN,
	SS_CONNECTING,
	SS_CONNECTED,           /* TCP: it is or was up (pcb NULL once lwIP let it go) */
};

struct dgram {
	struct pbuf *p;
	ip_addr_t from;
	u16_t port;
	bool to_vip;                    /* it was sent to the cluster IP */
};

struct sock {
	struct vnode vn;                /* the socket as a file; vn.priv is the sock */
	uint8_t type;                   /* DM_SOCK_STREAM, DM_SOCK_DGRAM */
	uint8_t state;                  /* enum sstate */
	uint8_t backlog;                /* a listener's */
	bool bound;                     /* it has a local port */
	bool listed;                    /* listener_opened() took it */
	int vip;                        /* its vip_listen() handle, or -1 */
	ip_addr_t vip_peer;             /* UDP: the last peer whose datagram came to the VIP, */
	u16_t vip_peer_port;            /* ... answered from the VIP (0: none) */
	bool zombie;                    /* closed, lwIP could not close it yet */
	bool rd_shut, wr_shut;          /* shutdown() */
	bool eof;                       /* TCP: the peer's FIN came */
	bool rx_busy;                   /* a reader copies out of the queue */
	bool reuse, keepalive, nodelay;
	int err;                        /* pending error, a positive errno: SO_ERROR */
	int pid;                        /* the process that made it (a listener's, for accepted ones) */
	uint64_t rcvtimeo_ns, sndtimeo_ns;      /* 0: wait for ever */
	union {
		struct tcp_pcb *tcp;    /* a listener's is lwIP's tcp_pcb_listen */
		struct udp_pcb *udp;
		void *any;
	} pcb;
	ip_addr_t local_ip, bind_ip;    /* the endpoint as last seen, and what bind() asked */
	u16_t local_port, bind_port;
	/* TCP: received, not yet read */
	struct pbuf *rx;
	uint32_t rx_len, rx_npbufs;
	/* UDP: a ring of datagrams */
	struct dgram *dq;
	unsigned dq_head, dq_n;
	uint32_t dq_bytes;
	uint64_t dq_dropped;
	/* a listener's connections not yet accepted; a queued connection's listener */
	struct sock *aq_head, *aq_tail, *aq_next, *parent;
	unsigned aq_n;
	uint64_t refused;               /* a listener's: connections it had no room for */
	struct sock *lnext;             /* the listeners, for `net` */
};

static const struct vfs_ops sock_ops;
static struct vfs sock_vfs = { .name = "sock", .ops = &sock_ops };
static struct sock *listeners;
static unsigned nopen[3];               /* by type: sockets that exist (zombies too) */
static uint64_t next_ino;

static struct vm *uvm(void)
{
	return &current->vm;
}

static void wake(struct sock *sk)
{
	sched_wakeup(sk);
	poll_wake();
}

static int take_err(struct sock *sk)
{
	int e = sk->err;

	sk->err = 0;
	return e;
}

static uint64_t deadline_of(uint64_t timeo_ns)
{
	return timeo_ns ? arch_time_ns() + timeo_ns : 0;
}

/*
 * Sleep on sk until woken or deadline (0: none). Interrupts are off from
 * the look at the kill flag to the sleep, so a kill that comes between
 * them still wakes us. Return: 0, -EINTR (killed), -EAGAIN (deadline).
 */
static int sock_wait(struct sock *sk, uint64_t deadline)
{
	if (deadline && arch_time_ns() >= deadline)
		return -EAGAIN;
	uint64_t flags = arch_irq_save();
	if (!proc_interrupted(current))
		sched_sleep(sk, deadline);
	arch_irq_restore(flags);
	return proc_interrupted(current) ? -EINTR : 0;
}

/* lwIP's packets to one of the node's own addresses wait in a netif's loop
 * queue for the network work: have it run now. */
static void loop_kick(void)
{
	struct netif *n;

	NETIF_FOREACH(n)
		if (n->loop_first) {
			net_kick();
			return;
		}
}

/* Is ip one of this node's addresses (or INADDR_ANY)? Any netif's counts. */
static bool local_address(const ip_addr_t *ip)
{
	struct netif *n;

	if (ip_addr_isany(ip))
		return true;
	NETIF_FOREACH(n)
		if (netif_is_up(n) && ip_addr_cmp(ip, netif_ip_addr4(n)))
			return true;
	return false;
}

static int lwip_errno(err_t e)
{
	switch (e) {
	case ERR_OK:            return 0;
	case ERR_MEM:
	case ERR_BUF:           return -ENOBUFS;
	case ERR_RTE:           return -ENETUNREACH;
	case ERR_USE:           return -EADDRINUSE;
	case ERR_ALREADY:       return -EALREADY;
	case ERR_ISCONN:        return -EISCONN;
	case ERR_CONN:          return -ENOTCONN;
	case ERR_IF:            return -ENETDOWN;
	case ERR_ABRT:          return -ECONNABORTED;
	case ERR_RST:           return -ECONNRESET;
	case ERR_CLSD:          return -ENOTCONN;
	default:                return -EINVAL;
	}
}

/* ---- the listener seam -------------------------------------------------------------- */

static u16_t port_of(const struct sock *sk)
{
	return sk->type == DM_SOCK_STREAM ? sk->pcb.tcp->local_port : sk->pcb.udp->local_port;
}

/*
 * sk starts taking connections (TCP, before lwIP listens) or datagrams
 * (UDP, bound by bind()) on its port. Return: 0, or a negative errno that
 * fails the listen or bind.
 */
static int listener_opened(struct sock *sk)
{
	const ip_addr_t *at = sk->type == DM_SOCK_STREAM ? &sk->pcb.tcp->local_ip :
			      &sk->pcb.udp->local_ip;
	uint32_t vip = vip_address();

	sk->vip = -1;
	if (ip_addr_isany(at) || (vip && ip4_addr_get_u32(ip_2_ip4(at)) == vip)) {
		int h = vip_listen(sk->type == DM_SOCK_STREAM ? VIP_TCP : VIP_UDP, port_of(sk),
				   sk->pid);

		if (h >= 0)
			sk->vip = h;
		else if (h == -ENOSPC)          /* the pool's port table is full */
			return -ENOBUFS;
		else if (h == -ETIMEDOUT)       /* its lease stayed taken: try again */
			return -EAGAIN;
		else if (h != -EHOSTDOWN)       /* no VIP here: the node's own address only */
			return h;
	}
	sk->lnext = listeners;
	listeners = sk;
	sk->listed = true;
	return 0;
}

/* ... and stops: the listen or bind failed, or the socket is released. */
static void listener_closed(struct sock *sk)
{
	if (!sk->listed)
		return;
	if (sk->vip >= 0)
		vip_unlisten(sk->vip);
	sk->vip = -1;
	for (struct sock **pp = &listeners; *pp; pp = &(*pp)->lnext)
		if (*pp == sk) {
			*pp = sk->lnext;
			break;
		}
	sk->listed = false;
}

void sock_show(void)
{
	printk("net: sockets: %u tcp, %u udp\n", nopen[DM_SOCK_STREAM], nopen[DM_SOCK_DGRAM]);
	for (struct sock *sk = listeners; sk; sk = sk->lnext) {
		if (sk->type == DM_SOCK_STREAM)
			printk("net: tcp listener %s:%u pid %d: %u waiting, backlog %u, %lu refused\n",
			       ipaddr_ntoa(&sk->pcb.tcp->local_ip), port_of(sk), sk->pid, sk->aq_n,
			       sk->backlog, sk->refused);
		else
			printk("net: udp socket %s:%u pid %d: %u queued, %lu dropped\n",
			       ipaddr_ntoa(&sk->pcb.udp->local_ip), port_of(sk), sk->pid, sk->dq_n,
			       sk->dq_dropped);
	}
}

/* ---- socks --------------------------------------------------------------------------- */

static struct sock *sock_new(int type, int pid)
{
	struct sock *sk = kzalloc(sizeof(*sk));

	if (!sk)
		return NULL;
	if (type == DM_SOCK_DGRAM && !(sk->dq = kzalloc(UDP_QUEUE * sizeof(*sk->dq)))) {
		kfree(sk);
		return NULL;
	}
	sk->vn = (struct vnode){ &sock_vfs, sk, ++next_ino, VN_SOCK, 0 };
	sk->type = (uint8_t)type;
	sk->pid = pid;
	nopen[type]++;
	return sk;
}

/* Free sk and what it holds; its pcb is lwIP's or gone already. */
static void sock_free(struct sock *sk)
{
	if (sk->rx)
		pbuf_free(sk->rx);
	for (unsigned i = 0; i < sk->dq_n; i++)
		pbuf_free(sk->dq[(sk->dq_head + i) % UDP_QUEUE].p);
	kfree(sk->dq);
	nopen[sk->type]--;
	kfree(sk);
}

/* A pool pbuf carrying a few bytes: into the heap, so the pool's frames go
 * back to the card. Return: p or its copy (p freed then). */
static struct pbuf *compact(struct pbuf *p)
{
	struct pbuf *q;

	if (p->tot_len > RX_SMALL || !pbuf_match_allocsrc(p, PBUF_POOL))
		return p;
	if (!(q = pbuf_clone(PBUF_RAW, PBUF_RAM, p)))
		return p;
	pbuf_free(p);
	return q;
}

/* Copy n bytes of the chain p to the buffer, from byte at of it. */
static int copy_out(struct pbuf *p, const struct uio *u, uint64_t at, uint64_t n)
{
	for (; n && p; p = p->next) {
		size_t k = MIN(n, p->len);
		int err = uio_copyout(u, at, p->payload, k);
		if (err)
			return err;
		at += k;
		n -= k;
	}
	return 0;
}

/* ---- TCP: lwIP's callbacks ------------------------------------------------------------- */

static void tcp_remember(struct sock *sk)
{
	ip_addr_copy(sk->local_ip, sk->pcb.tcp->local_ip);
	sk->local_port = sk->pcb.tcp->local_port;
}

static void t_err(void *arg, err_t err);
static err_t t_poll(void *arg, struct tcp_pcb *pcb);

/* The pcb is lwIP's now: none of our callbacks. */
static void tcp_detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
}

/* A closed socket whose close lwIP refused: t_poll retries, t_err ends it. */
static void zombie_attach(struct sock *sk, struct tcp_pcb *pcb)
{
	tcp_arg(pcb, sk);
	tcp_err(pcb, t_err);
	tcp_poll(pcb, t_poll, POLL_TICKS);
}

static err_t t_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct sock *sk = arg;

	if (!p) {
		sk->eof = true;
		if (sk->wr_shut && (pcb->state == FIN_WAIT_1 || pcb->state == FIN_WAIT_2 ||
				    pcb->state == CLOSING || pcb->state == TIME_WAIT)) {
			/* closed both ways: lwIP ends it (TIME_WAIT) and frees the
			 * pcb without a word to us, so it is lwIP's from now */
			tcp_detach(pcb);
			sk->pcb.tcp = NULL;
		}
		wake(sk);
		return ERR_OK;
	}
	if (err != ERR_OK) {
		pbuf_free(p);
		return err;
	}
	if (sk->rd_shut) {              /* shutdown(SHUT_RD): taken and dropped */
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	p = compact(p);
	unsigned n = pbuf_clen(p);
	if (sk->rx && sk->rx_npbufs + n > RX_PBUFS_MAX && !sk->rx_busy) {
		/* many small pieces: merge them (not under a reader's feet) */
		struct pbuf *all = pbuf_alloc(PBUF_RAW, (u16_t)(sk->rx_len + p->tot_len), PBUF_RAM);
		if (!all)
			return ERR_MEM; /* lwIP keeps p and offers it again */
		pbuf_copy_partial(sk->rx, all->payload, (u16_t)sk->rx_len, 0);
		pbuf_copy_partial(p, (uint8_t *)all->payload + sk->rx_len, p->tot_len, 0);
		pbuf_free(sk->rx);
		sk->rx_len += p->tot_len;
		pbuf_free(p);
		sk->rx = all;
		sk->rx_npbufs = 1;
	} else {
		sk->rx_len += p->tot_len;
		sk->rx_npbufs += n;
		if (sk->rx)
			pbuf_cat(sk->rx, p);
		else
			sk->rx = p;
	}
	wake(sk);
	return ERR_OK;
}

static err_t t_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)pcb;
	(void)len;
	wake(arg);
	return ERR_OK;
}

/* Every POLL_TICKS: a zombie tries its close again; others' writers retry. */
static err_t t_poll(void *arg, struct tcp_pcb *pcb)
{
	struct sock *sk = arg;

	if (!sk->zombie) {
		wake(sk);
		return ERR_OK;
	}
	tcp_detach(pcb);
	if (tcp_close(pcb) != ERR_OK) {
		zombie_attach(sk, pcb);
		return ERR_OK;
	}
	sock_free(sk);
	return ERR_OK;
}

static void aq_unlink(struct sock *l, struct sock *c)
{
	struct sock *prev = NULL;

	for (struct sock *q = l->aq_head; q; prev = q, q = q->aq_next) {
		if (q != c)
			continue;
		if (prev)
			prev->aq_next = c->aq_next;
		else
			l->aq_head = c->aq_next;
		if (l->aq_tail == c)
			l->aq_tail = prev;
		l->aq_n--;
		break;
	}
	c->parent = c->aq_next = NULL;
}

/* lwIP gave the connection up (reset, timeout, closed both ways): its pcb is freed. */
static void t_err(void *arg, err_t err)
{
	struct sock *sk = arg, *l;

	if (!sk)
		return;
	sk->pcb.tcp = NULL;
	if (sk->zombie) {
		sock_free(sk);
		return;
	}
	if ((l = sk->parent)) {         /* never accepted: it just goes */
		aq_unlink(l, sk);
		sock_free(sk);
		wake(l);
		return;
	}
	if (sk->state == SS_CONNECTING) {
		sk->err = err == ERR_RST ? ECONNREFUSED : ETIMEDOUT;
		sk->state = SS_IDLE;
	} else if (err == ERR_RST) {
		sk->err = ECONNRESET;
	} else if (err != ERR_CLSD) {   /* ERR_CLSD: both sides closed, no error */
		sk->err = ETIMEDOUT;    /* retransmissions or keepalives went unanswered */
	}
	sk->eof = true;
	wake(sk);
}

static err_t t_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *sk = arg;

	(void)pcb;
	(void)err;                      /* always ERR_OK: a failure comes to t_err */
	sk->state = SS_CONNECTED;
	tcp_remember(sk);
	wake(sk);
	return ERR_OK;
}

static void tcp_options(struct sock *sk)
{
	struct tcp_pcb *pcb = sk->pcb.tcp;

	if (sk->reuse)
		ip_set_option(pcb, SOF_REUSEADDR);
	else
		ip_reset_option(pcb, SOF_REUSEADDR);
	if (sk->keepalive)
		ip_set_option(pcb, SOF_KEEPALIVE);
	else
		ip_reset_option(pcb, SOF_KEEPALIVE);
	if (sk->state == SS_LISTEN)
		return;                 /* a listen pcb has no flags: its connections get nodelay */
	if (sk->nodelay)
		tcp_nagle_disable(pcb);
	else
		tcp_nagle_enable(pcb);
}

static void tcp_attach(struct sock *sk)
{
	struct tcp_pcb *pcb = sk->pcb.tcp;

	tcp_arg(pcb, sk);
	tcp_recv(pcb, t_recv);
	tcp_sent(pcb, t_sent);
	tcp_err(pcb, t_err);
	tcp_poll(pcb, t_poll, POLL_TICKS);
	tcp_options(sk);
}

static err_t t_accept(void *arg, struct tcp_pcb *npcb, err_t err)
{
	struct sock *l = arg, *c;

	if (err != ERR_OK || !npcb)
		return ERR_VAL;         /* lwIP had no pcb for a SYN: nothing to do */
	if (!l || l->state != SS_LISTEN || l->aq_n >= l->backlog ||
	    !(c = sock_new(DM_SOCK_STREAM, l->pid))) {
		if (l)
			l->refused++;
		tcp_abort(npcb);
		return ERR_ABRT;
	}
	c->pcb.tcp = npcb;
	c->state = SS_CONNECTED;
	c->bound = true;
	c->reuse = l->reuse;
	c->keepalive = l->keepalive;
	c->nodelay = l->nodelay;
	c->rcvtimeo_ns = l->rcvtimeo_ns;
	c->sndtimeo_ns = l->sndtimeo_ns;
	tcp_attach(c);
	tcp_remember(c);
	tcp_backlog_delayed(npcb);      /* it counts against the backlog until accept() */
	c->parent = l;
	if (l->aq_tail)
		l->aq_tail->aq_next = c;
	else
		l->aq_head = c;
	l->aq_tail = c;
	l->aq_n++;
	wake(l);
	return ERR_OK;
}

static int tcp_pcb_new(struct sock *sk)
{
	if (!(sk->pcb.tcp = tcp_new_ip_type(IPADDR_TYPE_V4)))
		return -ENOBUFS;
	tcp_attach(sk);
	return 0;
}

/* ---- UDP's callback ---------------------------------------------------------------------- */

static void u_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	struct sock *sk = arg;

	(void)pcb;
	if (sk->rd_shut || sk->dq_n == UDP_QUEUE || sk->dq_bytes + p->tot_len > UDP_RCVBUF) {
		sk->dq_dropped++;
		pbuf_free(p);
		return;
	}
	p = compact(p);
	struct dgram *d = &sk->dq[(sk->dq_head + sk->dq_n++) % UDP_QUEUE];
	d->p = p;
	ip_addr_copy(d->from, *addr);
	d->port = port;
	d->to_vip = vip_address() && ip4_addr_get_u32(ip4_current_dest_addr()) == vip_address();
	sk->dq_bytes += p->tot_len;
	wake(sk);
}

static int udp_pcb_new(struct sock *sk)
{
	if (!(sk->pcb.udp = udp_new_ip_type(IPADDR_TYPE_V4)))
		return -ENOBUFS;
	udp_recv(sk->pcb.udp, u_recv, sk);
	if (sk->reuse)
		ip_set_option(sk->pcb.udp, SOF_REUSEADDR);
	return 0;
}

/* ---- release -------------------------------------------------------------------------- */

/* The last reference to the socket's file went: close, exit or a kill. */
static void sock_release(struct sock *sk)
{
	struct tcp_pcb *pcb = sk->pcb.tcp;

	listener_closed(sk);
	if (sk->type == DM_SOCK_DGRAM) {
		if (sk->pcb.udp)
			udp_remove(sk->pcb.udp);
		sock_free(sk);
		return;
	}
	if (sk->state == SS_LISTEN) {
		for (struct sock *c = sk->aq_head, *next; c; c = next) {
			next = c->aq_next;
			if (c->pcb.tcp) {       /* never accepted: reset, as Linux does */
				tcp_arg(c->pcb.tcp, NULL);
				tcp_abort(c->pcb.tcp);
			}
			sock_free(c);
		}
		tcp_close(pcb);         /* a listen pcb always closes */
		sock_free(sk);
		return;
	}
	if (!pcb) {
		sock_free(sk);
		return;
	}
	/* unread data is dropped unacknowledged: tcp_close() then resets */
	if (sk->rx)
		pbuf_free(sk->rx);
	sk->rx = NULL;
	sk->rx_len = sk->rx_npbufs = 0;
	tcp_detach(pcb);                /* lwIP's own recv then takes what still comes */
	if (tcp_close(pcb) == ERR_OK) {
		loop_kick();
		sock_free(sk);
		return;
	}
	sk->zombie = true;              /* no memory for the FIN: t_poll tries again */
	zombie_attach(sk, pcb);
}

/* ---- data ---------------------------------------------------------------------------- */

/* No room to send: push out what is queued, then wait for acks (or lwIP's
 * poll). Return: 0 to look again, -EAGAIN, -EINTR. */
static int send_wait(struct sock *sk, bool nonblock, uint64_t deadline)
{
	if (sk->pcb.tcp && sk->state == SS_CONNECTED)
		tcp_output(sk->pcb.tcp);
	loop_kick();
	return nonblock ? -EAGAIN : sock_wait(sk, deadline);
}

static int64_t stream_send(struct sock *sk, const struct uio *u, int flags, bool nonblock)
{
	static uint8_t chunk[SEND_CHUNK];       /* see the top of the file */
	uint64_t done = 0, deadline = deadline_of(sk->sndtimeo_ns);
	int err = 0;

	if (sk->state == SS_LISTEN || (sk->state == SS_IDLE && !sk->err))
		return -ENOTCONN;
	while (done < u->len) {
		struct tcp_pcb *pcb = sk->pcb.tcp;
		if (sk->err) {          /* after a short count, the next call reports it */
			err = done ? 0 : -take_err(sk);
			break;
		}
		if (sk->wr_shut || sk->state == SS_IDLE || (sk->state == SS_CONNECTED && !pcb)) {
			err = -EPIPE;
			break;
		}
		uint32_t room = sk->state == SS_CONNECTED ? tcp_sndbuf(pcb) : 0;
		if (room && tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN)
			room = 0;
		if (!room) {
			if ((err = send_wait(sk, nonblock, deadline)))
				break;
			continue;
		}
		size_t k = MIN(MIN(u->len - done, room), SEND_CHUNK);
		if ((err = uio_copyin(u, done, chunk, k)))
			break;
		/* the copy may have slept: look at the connection again */
		if (!(pcb = sk->pcb.tcp) || sk->wr_shut || sk->err || !(k = MIN(k, tcp_sndbuf(pcb))))
			continue;
		bool more = done + k < u->len || (flags & DM_MSG_MORE);
		err_t e = tcp_write(pcb, chunk, (u16_t)k, TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0));
		if (e == ERR_MEM) {             /* no segment or heap now: wait for acks or poll */
			if ((err = send_wait(sk, nonblock, deadline)))
				break;
			continue;
		}
		if (e != ERR_OK) {
			err = lwip_errno(e);
			break;
		}
		done += k;
	}
	if (done && sk->pcb.tcp) {
		tcp_output(sk->pcb.tcp);
		loop_kick();
	}
	return done ? (int64_t)done : err;
}

/* n bytes of the TCP queue were read: give the window back. */
static void consume(struct sock *sk, uint32_t n)
{
	sk->rx = pbuf_free_header(sk->rx, (u16_t)n);
	sk->rx_len -= n;
	sk->rx_npbufs = sk->rx ? pbuf_clen(sk->rx) : 0;
	if (sk->pcb.tcp) {
		tcp_recved(sk->pcb.tcp, (u16_t)n);
		loop_kick();
	}
}

/* Wait until no other reader copies out of sk's queue, then be the one. */
static int rx_enter(struct sock *sk, bool nonblock, uint64_t deadline)
{
	int err;

	while (sk->rx_busy) {
		if (nonblock)
			return -EAGAIN;
		if ((err = sock_wait(sk, deadline)))
			return err;
	}
	sk->rx_busy = true;
	return 0;
}

static void rx_leave(struct sock *sk)
{
	sk->rx_busy = false;
	sched_wakeup(sk);
}

static int64_t stream_recv(struct sock *sk, const struct uio *u, int flags, bool nonblock)
{
	uint64_t done = 0, deadline = deadline_of(sk->rcvtimeo_ns);
	int err;

	if (sk->state == SS_LISTEN || (sk->state == SS_IDLE && !sk->err))
		return -ENOTCONN;
	if (!u->len)
		return 0;
	if ((err = rx_enter(sk, nonblock, deadline)))
		return err;
	for (;;) {
		if (sk->rx_len) {
			uint32_t k = (uint32_t)MIN(u->len - done, sk->rx_len);
			if ((err = copy_out(sk->rx, u, done, k)))
				break;
			if (!(flags & DM_MSG_PEEK))
				consume(sk, k);
			done += k;
			if (done == u->len || !(flags & DM_MSG_WAITALL) || (flags & DM_MSG_PEEK))
				break;
			continue;
		}
		if (sk->err) {
			if (!done)
				err = -take_err(sk);
			break;
		}
		if (sk->eof || sk->rd_shut || sk->state == SS_IDLE ||
		    (sk->state == SS_CONNECTED && !sk->pcb.tcp))
			break;          /* the end: 0 */
		if (done && !(flags & DM_MSG_WAITALL))
			break;
		if (nonblock) {
			err = -EAGAIN;
			break;
		}
		if ((err = sock_wait(sk, deadline)))
			break;
	}
	rx_leave(sk);
	return done ? (int64_t)done : err;
}

/*
 * Does a datagram to (to, port) (NULL: the connected peer) leave from the
 * cluster IP? When the socket is bound to it, and when it is bound to any
 * address and the peer's last datagram came to the VIP: lwIP would send
 * from the card's address, which the peer never wrote to (as a socket on
 * Linux does without IP_PKTINFO).
 */
static bool from_vip(const struct sock *sk, const ip_addr_t *to, u16_t port)
{
	uint32_t vip = vip_address();
	const struct udp_pcb *u = sk->pcb.udp;

	if (!vip)
		return false;
	if (ip4_addr_get_u32(ip_2_ip4(&u->local_ip)) == vip)
		return true;
	if (!to) {
		to = &u->remote_ip;
		port = u->remote_port;
	}
	return ip_addr_isany(&u->local_ip) && sk->vip_peer_port == port &&
	       ip_addr_cmp(&sk->vip_peer, to);
}

/* udp_sendto() from the VIP, through the card's netif (the VIP's has no link). */
static err_t vip_sendto(struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *to, u16_t port)
{
	struct netif *out = ip4_route(ip_2_ip4(to));
	ip_addr_t src;

	if (!out)
		return ERR_RTE;
	ip_addr_set_ip4_u32(&src, vip_address());
	if (!pcb->local_port && udp_bind(pcb, &pcb->local_ip, 0) != ERR_OK)
		return ERR_USE;
	return udp_sendto_if_src(pcb, p, to, port, out, &src);
}

static int64_t dgram_send(struct sock *sk, const struct uio *u, const ip_addr_t *to, u16_t port)
{
	struct pbuf *p;
	err_t e;
	int err;

	if (!sk->pcb.udp)
		return -ENOBUFS;        /* a failed bind() could not get it a new pcb */
	if (u->len > UDP_MAX)
		return -EMSGSIZE;
	if (!to && sk->state != SS_CONNECTED)
		return -EDESTADDRREQ;
	if (sk->wr_shut)
		return -EPIPE;
	if (to && !port)
		return -EINVAL;
	if (!(p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)u->len, PBUF_RAM)))
		return -ENOBUFS;
	if ((err = uio_copyin(u, 0, p->payload, u->len))) {    /* the pbuf is ours while it sleeps */
		pbuf_free(p);
		return err;
	}
	e = from_vip(sk, to, port) ? vip_sendto(sk->pcb.udp, p, to ? to : &sk->pcb.udp->remote_ip,
						   to ? port : sk->pcb.udp->remote_port) :
	    to ? udp_sendto(sk->pcb.udp, p, to, port) : udp_send(sk->pcb.udp, p);
	pbuf_free(p);
	if (e == ERR_OK)
		sk->bound = true;       /* lwIP bound it to a port of its choice if it was not */
	loop_kick();
	return e == ERR_OK ? (int64_t)u->len : lwip_errno(e);
}

static int64_t dgram_recv(struct sock *sk, const struct uio *u, int flags, bool nonblock,
			ip_addr_t *from, u16_t *port)
{
	uint64_t deadline = deadline_of(sk->rcvtimeo_ns);
	int err;

	if ((err = rx_enter(sk, nonblock, deadline)))
		return err;
	while (!sk->dq_n && !sk->rd_shut) {
		if (nonblock) {
			err = -EAGAIN;
			goto out;
		}
		if ((err = sock_wait(sk, deadline)))
			goto out;
	}
	if (!sk->dq_n)
		goto out;               /* shut for reading: 0 */
	struct dgram *d = &sk->dq[sk->dq_head];
	uint32_t whole = d->p->tot_len, n = (uint32_t)MIN(u->len, whole);
	if ((err = copy_out(d->p, u, 0, n)))
		goto out;
	if (from) {
		ip_addr_copy(*from, d->from);
		*port = d->port;
	}
	if (d->to_vip) {                /* answers to this peer leave from the VIP */
		ip_addr_copy(sk->vip_peer, d->from);
		sk->vip_peer_port = d->port;
	} else if (d->port == sk->vip_peer_port && ip_addr_cmp(&d->from, &sk->vip_peer)) {
		sk->vip_peer_port = 0;
	}
	if (!(flags & DM_MSG_PEEK)) {   /* the rest of a datagram too long for the buffer is lost */
		pbuf_free(d->p);
		sk->dq_bytes -= whole;
		sk->dq_head = (sk->dq_head + 1) % UDP_QUEUE;
		sk->dq_n--;
	}
	rx_leave(sk);
	return (flags & DM_MSG_TRUNC) ? whole : n;
out:
	rx_leave(sk);
	return err;
}

static int64_t sock_send(struct sock *sk, const struct uio *u, int flags, bool nonblock,
			 const ip_addr_t *to, u16_t port)
{
	if (sk->type == DM_SOCK_DGRAM)
		return dgram_send(sk, u, to, port);
	return stream_send(sk, u, flags, nonblock);
}

/* Return: bytes; *from and *port are set for UDP (from NULL: not wanted). */
static int64_t sock_recv(struct sock *sk, const struct uio *u, int flags, bool nonblock,
			 ip_addr_t *from, u16_t *port)
{
	if (sk->type == DM_SOCK_DGRAM)
		return dgram_recv(sk, u, flags, nonblock, from, port);
	return stream_recv(sk, u, flags, nonblock);
}

/* ---- the socket as a file ------------------------------------------------------------ */

static int64_t s_read(struct vnode *vn, uint64_t off, const struct uio *u)
{
	(void)off;
	return sock_recv(vn->priv, u, 0, u->flags & DM_O_NONBLOCK, NULL, NULL);
}

static int64_t s_write(struct vnode *vn, uint64_t *off, const struct uio *u, bool append)
{
	(void)off;
	(void)append;
	return sock_send(vn->priv, u, 0, u->flags & DM_O_NONBLOCK, NULL, 0);
}

static int s_getattr(struct vnode *vn, struct dm_stat *st)
{
	*st = (struct dm_stat){ .ino = vn->ino, .mode = DM_S_IFSOCK | 0777, .nlink = 1,
				.blksize = TCP_MSS };
	return 0;
}

static int s_poll(struct vnode *vn, int events)
{
	struct sock *sk = vn->priv;
	struct tcp_pcb *pcb = sk->pcb.tcp;
	int r = sk->err ? DM_POLLERR : 0;

	(void)events;
	if (sk->type == DM_SOCK_DGRAM)
		return r | DM_POLLOUT | (sk->dq_n || sk->rd_shut ? DM_POLLIN : 0);
	switch (sk->state) {
	case SS_LISTEN:
		return r | (sk->aq_n ? DM_POLLIN : 0);
	case SS_CONNECTING:
		return r;
	case SS_IDLE:                   /* as Linux: a write would not wait, it fails */
		return r | DM_POLLOUT | DM_POLLHUP;
	default:
		if (sk->rx_len || sk->eof || sk->rd_shut || !pcb)
			r |= DM_POLLIN;
		if (!pcb || sk->wr_shut || (tcp_sndbuf(pcb) >= TCP_SND_BUF / 4 &&
					   tcp_sndqueuelen(pcb) < TCP_SND_QUEUELEN / 2))
			r |= DM_POLLOUT;
		if (!pcb || (sk->eof && sk->wr_shut))
			r |= DM_POLLHUP;
		return r;
	}
}

static void s_inactive(struct vnode *vn)
{
	sock_release(vn->priv);
}

static const struct vfs_ops sock_ops = {
	.read = s_read, .write = s_write, .getattr = s_getattr, .poll = s_poll,
	.inactive = s_inactive,
};

/* ---- the system calls ------------------------------------------------------------------ */

/* The socket behind descriptor fd (and its file, if fp). Return: 0, -EBADF, -ENOTSOCK. */
static int sock_of(int64_t fd, struct sock **skp, struct file **fp)
{
	struct file *f = fd_get(fd_table(), fd);

	if (!f)
		return -EBADF;
	if (f->vn->fs != &sock_vfs)
		return -ENOTSOCK;
	if (fp)
		*fp = f;
	*skp = f->vn->priv;
	return 0;
}

/* A user struct sockaddr_in of len bytes at uaddr. Return: 0, -EINVAL, -EFAULT, -EAFNOSUPPORT. */
static int get_addr(uint64_t uaddr, uint64_t len, ip_addr_t *ip, u16_t *port, uint16_t *family)
{
	struct dm_sockaddr_in sa;

	if (len > ADDR_LEN_MAX)
		return -EINVAL;
	if (len >= sizeof(sa.family) && family && !copy_from_user(uvm(), family, uaddr, sizeof(*family)) &&
	    *family == DM_AF_UNSPEC)
		return 0;               /* UDP's connect(AF_UNSPEC): the caller looks at family */
	if (len < sizeof(sa))
		return -EINVAL;
	if (copy_from_user(uvm(), &sa, uaddr, sizeof(sa)))
		return -EFAULT;
	if (sa.family != DM_AF_INET)
		return -EAFNOSUPPORT;
	ip4_addr_set_u32(ip_2_ip4(ip), sa.addr);
	*port = lwip_ntohs(sa.port);
	if (family)
		*family = sa.family;
	return 0;
}

/* Can (uaddr, ulen) take an address? Looked at before anything is done. */
static int check_addr_out(uint64_t uaddr, uint64_t ulen)
{
	int32_t len;

	if (!ulen || copy_from_user(uvm(), &len, ulen, sizeof(len)))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	if (vm_check(uvm(), ulen, sizeof(len), true) ||
	    (len && vm_check(uvm(), uaddr, (uint64_t)MIN(len, ADDR_LEN), true)))
		return -EFAULT;
	return 0;
}

/* Give an address to (uaddr, ulen): as much as fits, and its real length. */
static int put_addr(uint64_t uaddr, uint64_t ulen, const ip_addr_t *ip, u16_t port)
{
	struct dm_sockaddr_in sa = { DM_AF_INET, lwip_htons(port), ip4_addr_get_u32(ip_2_ip4(ip)), { 0 } };
	int32_t len, err = check_addr_out(uaddr, ulen);

	if (err || (err = copy_from_user(uvm(), &len, ulen, sizeof(len))))
		return err;
	if (len && (err = copy_to_user(uvm(), uaddr, &sa, (size_t)MIN(len, ADDR_LEN))))
		return err;
	len = ADDR_LEN;
	return copy_to_user(uvm(), ulen, &len, sizeof(len));
}

int64_t sys_socket(SYSFILE_ARGS)
{
	int fl = (int)b & (DM_SOCK_NONBLOCK | DM_SOCK_CLOEXEC), type = (int)b & ~fl;
	int proto = (int)c, fd, err;
	struct sock *sk;
	struct file *f;

	if (a != DM_AF_INET)
		return -EAFNOSUPPORT;
	if (type == DM_SOCK_STREAM) {
		if (proto && proto != DM_IPPROTO_TCP)
			return -EPROTONOSUPPORT;
	} else if (type == DM_SOCK_DGRAM) {
		if (proto && proto != DM_IPPROTO_UDP)
			return -EPROTONOSUPPORT;
	} else {
		return type > 0 && type <= 10 ? -EPROTONOSUPPORT : -EINVAL;    /* Linux's SOCK_MAX */
	}
	if (!net_up())
		return -ENETDOWN;
	if ((fd = fd_free(fd_table(), 0)) < 0)
		return fd;
	if (!(sk = sock_new(type, current->pid)))
		return -ENOMEM;
	err = type == DM_SOCK_STREAM ? tcp_pcb_new(sk) : udp_pcb_new(sk);
	if (err) {
		sock_free(sk);
		return err;
	}
	if ((err = file_open(vref(&sk->vn), DM_O_RDWR | (fl & DM_SOCK_NONBLOCK), &f)))
		return err;             /* the vnode went, and the sock with it */
	fd_install(fd_table(), fd, f, fl & DM_SOCK_CLOEXEC);
	return fd;
}

int64_t sys_bind(SYSFILE_ARGS)
{
	struct sock *sk;
	ip_addr_t ip;
	u16_t port;
	int err = sock_of((int64_t)a, &sk, NULL);

	if (err || (err = get_addr(b, c, &ip, &port, NULL)))
		return err;
	if (!local_address(&ip))
		return -EADDRNOTAVAIL;
	if (sk->bound || sk->state != SS_IDLE)
		return -EINVAL;
	if (sk->type == DM_SOCK_STREAM) {
		if (!sk->pcb.tcp && (err = tcp_pcb_new(sk)))
			return err;
		if ((err = lwip_errno(tcp_bind(sk->pcb.tcp, &ip, port))))
			return err;
		tcp_remember(sk);
	} else {
		if (!sk->pcb.udp)
			return -ENOBUFS;
		if ((err = lwip_errno(udp_bind(sk->pcb.udp, &ip, port))))
			return err;
		if ((err = listener_opened(sk))) {      /* refused: a new pcb, unbound */
			udp_remove(sk->pcb.udp);
			sk->pcb.udp = NULL;
			int e2 = udp_pcb_new(sk);
			return e2 ? e2 : err;
		}
		ip_addr_copy(sk->local_ip, sk->pcb.udp->local_ip);
		sk->local_port = sk->pcb.udp->local_port;
	}
	ip_addr_copy(sk->bind_ip, ip);
	sk->bind_port = sk->local_port;
	sk->bound = true;
	return 0;
}

int64_t sys_listen(SYSFILE_ARGS)
{
	struct sock *sk;
	int backlog = (int)b, err = sock_of((int64_t)a, &sk, NULL);
	err_t e;

	if (err)
		return err;
	if (sk->type != DM_SOCK_STREAM)
		return -EOPNOTSUPP;
	backlog = backlog < 1 ? 1 : backlog > DM_SOMAXCONN ? DM_SOMAXCONN : backlog;
	if (sk->state == SS_LISTEN) {   /* again: a new backlog */
		tcp_backlog_set(sk->pcb.tcp, (u8_t)backlog);
		sk->backlog = (uint8_t)backlog;
		return 0;
	}
	if (sk->state != SS_IDLE || !sk->pcb.tcp)
		return -EINVAL;
	if (!sk->bound) {
		if ((err = lwip_errno(tcp_bind(sk->pcb.tcp, IP_ANY_TYPE, 0))))
			return err;
		sk->bound = true;
	}
	if ((err = listener_opened(sk)))
		return err;
	struct tcp_pcb *l = tcp_listen_with_backlog_and_err(sk->pcb.tcp, (u8_t)backlog, &e);
	if (!l) {
		listener_closed(sk);
		return lwip_errno(e);
	}
	sk->pcb.tcp = l;                /* the old pcb is freed */
	sk->state = SS_LISTEN;
	sk->backlog = (uint8_t)backlog;
	tcp_arg(l, sk);
	tcp_accept(l, t_accept);
	tcp_remember(sk);
	return 0;
}

/* accept4(fd, addr, addrlen, flags) */
int64_t sys_accept(SYSFILE_ARGS)
{
	struct file *lf, *f;
	struct sock *sk;
	int flags = (int)d, fd, err = sock_of((int64_t)a, &sk, &lf);

	if (err)
		return err;
	uint64_t deadline = deadline_of(sk->rcvtimeo_ns);
	bool nonblock = lf->flags & DM_O_NONBLOCK;

	if (flags & ~(DM_SOCK_NONBLOCK | DM_SOCK_CLOEXEC))
		return -EINVAL;
	if (sk->type != DM_SOCK_STREAM)
		return -EOPNOTSUPP;
	if (sk->state != SS_LISTEN)
		return -EINVAL;
	if (b && (err = check_addr_out(b, c)))
		return err;
	while (!sk->aq_head) {
		if (nonblock)
			return -EAGAIN;
		if ((err = sock_wait(sk, deadline)))
			return err;
	}
	if ((fd = fd_free(fd_table(), 0)) < 0)
		return fd;              /* the connection waits for a later accept */
	struct sock *cs = sk->aq_head;
	aq_unlink(sk, cs);
	if (cs->pcb.tcp)
		tcp_backlog_accepted(cs->pcb.tcp);
	if ((err = file_open(vref(&cs->vn), DM_O_RDWR | (flags & DM_SOCK_NONBLOCK), &f)))
		return err;
	if (b && (err = put_addr(b, c, &cs->pcb.tcp->remote_ip, cs->pcb.tcp->remote_port))) {
		file_put(f);
		return err;
	}
	fd_install(fd_table(), fd, f, flags & DM_SOCK_CLOEXEC);
	return fd;
}

static int tcp_connect_to(struct sock *sk, ip_addr_t *ip, u16_t port, bool nonblock)
{
	uint64_t deadline = deadline_of(sk->sndtimeo_ns);
	int err;

	switch (sk->state) {
	case SS_LISTEN:
	case SS_CONNECTED:
		return -EISCONN;
	case SS_CONNECTING:
		return -EALREADY;
	}
	if (!port)
		return -ECONNREFUSED;
	if (ip_addr_isany(ip))          /* "this host", as Linux takes it */
		ip_addr_copy(*ip, *netif_ip_addr4(netif_default));
	if (!sk->pcb.tcp) {             /* a connect failed before: a new pcb, bound as asked */
		if ((err = tcp_pcb_new(sk)))
			return err;
		if (sk->bound && (err = lwip_errno(tcp_bind(sk->pcb.tcp, &sk->bind_ip, sk->bind_port))))
			return err;
	}
	sk->err = 0;
	if ((err = lwip_errno(tcp_connect(sk->pcb.tcp, ip, port, t_connected))))
		return err;
	sk->state = SS_CONNECTING;
	sk->bound = true;
	sk->eof = sk->rd_shut = sk->wr_shut = false;
	tcp_remember(sk);
	loop_kick();
	if (nonblock)
		return -EINPROGRESS;
	while (sk->state == SS_CONNECTING)
		if ((err = sock_wait(sk, deadline)))
			return err == -EAGAIN ? -EINPROGRESS : err;
	return sk->state == SS_CONNECTED ? 0 : -take_err(sk);
}

int64_t sys_connect(SYSFILE_ARGS)
{
	struct file *f;
	struct sock *sk;
	ip_addr_t ip;
	u16_t port;
	uint16_t family = DM_AF_INET;
	int err = sock_of((int64_t)a, &sk, &f);

	if (err || (err = get_addr(b, c, &ip, &port, sk->type == DM_SOCK_DGRAM ? &family : NULL)))
		return err;
	if (sk->type == DM_SOCK_STREAM)
		return tcp_connect_to(sk, &ip, port, f->flags & DM_O_NONBLOCK);
	if (!sk->pcb.udp)
		return -ENOBUFS;
	if (family == DM_AF_UNSPEC) {
		udp_disconnect(sk->pcb.udp);
		sk->state = SS_IDLE;
		return 0;
	}
	if ((err = lwip_errno(udp_connect(sk->pcb.udp, &ip, port))))
		return err;
	sk->state = SS_CONNECTED;
	sk->bound = true;
	ip_addr_copy(sk->local_ip, sk->pcb.udp->local_ip);
	sk->local_port = sk->pcb.udp->local_port;
	return 0;
}

/*
 * What sendto and recvfrom check first: the socket, the flags (known: the
 * call's), the buffer. Return: 0 with *skp and *nonblock, or the errno.
 */
static int data_call(int64_t fd, int flags, int known, uint64_t buf, uint64_t n, bool into,
		     struct sock **skp, bool *nonblock)
{
	struct file *f;
	int err = sock_of(fd, skp, &f);

	if (err)
		return err;
	if (flags & DM_MSG_OOB)
		return -EOPNOTSUPP;
	if (flags & ~known)
		return -EINVAL;
	if (vm_check(uvm(), buf, n, into))
		return -EFAULT;
	*nonblock = (f->flags & DM_O_NONBLOCK) || (flags & DM_MSG_DONTWAIT);
	return 0;
}

/* sendto(fd, buf, n, flags, addr, addrlen) */
int64_t sys_sendto(SYSFILE_ARGS)
{
	struct sock *sk;
	struct uio u = { uvm(), b, c, 0 };
	bool nonblock;
	ip_addr_t ip;
	u16_t port = 0;
	int err = data_call((int64_t)a, (int)d, SEND_FLAGS, b, c, false, &sk, &nonblock);

	if (err)
		return err;
	bool to = e_ && sk->type == DM_SOCK_DGRAM;      /* a stream ignores it, as Linux's TCP */
	if (to && (err = get_addr(e_, f_, &ip, &port, NULL)))
		return err;
	return sock_send(sk, &u, (int)d, nonblock, to ? &ip : NULL, port);
}

/* recvfrom(fd, buf, n, flags, addr, addrlen) */
int64_t sys_recvfrom(SYSFILE_ARGS)
{
	struct sock *sk;
	struct uio u = { uvm(), b, c, 0 };
	bool nonblock;
	ip_addr_t from;
	u16_t port;
	int32_t zero = 0;
	int err = data_call((int64_t)a, (int)d, RECV_FLAGS, b, c, true, &sk, &nonblock);

	if (err || (e_ && (err = check_addr_out(e_, f_))))
		return err;
	int64_t r = sock_recv(sk, &u, (int)d, nonblock, &from, &port);
	if (r < 0 || !e_)
		return r;
	if (sk->type == DM_SOCK_DGRAM)
		err = put_addr(e_, f_, &from, port);
	else                            /* a stream has no source address per read */
		err = copy_to_user(uvm(), f_, &zero, sizeof(zero));
	return err ? err : r;
}

int64_t sys_shutdown(SYSFILE_ARGS)
{
	struct sock *sk;
	int how = (int)b, err = sock_of((int64_t)a, &sk, NULL);

	if (err)
		return err;
	if (how != DM_SHUT_RD && how != DM_SHUT_WR && how != DM_SHUT_RDWR)
		return -EINVAL;
	if (sk->state != SS_CONNECTED && sk->state != SS_CONNECTING)
		return -ENOTCONN;
	if (how != DM_SHUT_WR && !sk->rd_shut) {
		sk->rd_shut = true;
		if (sk->type == DM_SOCK_STREAM && sk->rx_len && !sk->rx_busy)
			consume(sk, sk->rx_len);        /* dropped, and the window opens */
	}
	if (how != DM_SHUT_RD && !sk->wr_shut) {
		sk->wr_shut = true;
		if (sk->type == DM_SOCK_STREAM && sk->pcb.tcp && sk->state == SS_CONNECTED) {
			tcp_shutdown(sk->pcb.tcp, 0, 1);        /* the FIN, after what is queued */
			loop_kick();
		}
	}
	wake(sk);
	return 0;
}

static int get_int(uint64_t uval, uint64_t len, int *v)
{
	if (len < sizeof(int))
		return -EINVAL;
	return copy_from_user(uvm(), v, uval, sizeof(*v));
}

/* setsockopt(fd, level, name, val, len) */
int64_t sys_setsockopt(SYSFILE_ARGS)
{
	struct sock *sk;
	struct dm_timeval tv;
	int v = 0, err = sock_of((int64_t)a, &sk, NULL);

	if (err)
		return err;
	if (b == DM_SOL_SOCKET) {
		switch (c) {
		case DM_SO_RCVTIMEO:
		case DM_SO_SNDTIMEO:
			if (e_ < sizeof(tv))
				return -EINVAL;
			if (copy_from_user(uvm(), &tv, d, sizeof(tv)))
				return -EFAULT;
			if (tv.usec < 0 || tv.usec >= 1000000 || tv.sec < 0)
				return -EDOM;
			uint64_t ns = (uint64_t)tv.sec > UINT64_MAX / 2000000000 ? UINT64_MAX / 2
				      : (uint64_t)tv.sec * 1000000000 + (uint64_t)tv.usec * 1000;
			*(c == DM_SO_RCVTIMEO ? &sk->rcvtimeo_ns : &sk->sndtimeo_ns) = ns;
			return 0;
		case DM_SO_REUSEADDR:
		case DM_SO_KEEPALIVE:
		case DM_SO_SNDBUF:
		case DM_SO_RCVBUF:
			if ((err = get_int(d, e_, &v)))
				return err;
			if (c == DM_SO_REUSEADDR)
				sk->reuse = v;
			else if (c == DM_SO_KEEPALIVE)
				sk->keepalive = v;
			else
				return 0;       /* the sizes are lwIP's, fixed (lwipopts.h) */
			break;
		default:
			return -ENOPROTOOPT;
		}
	} else if (b == DM_IPPROTO_TCP && sk->type == DM_SOCK_STREAM) {
		if (c != DM_TCP_NODELAY)
			return -ENOPROTOOPT;
		if ((err = get_int(d, e_, &v)))
			return err;
		sk->nodelay = v;
	} else {
		return -ENOPROTOOPT;
	}
	if (sk->type == DM_SOCK_STREAM && sk->pcb.tcp)
		tcp_options(sk);
	else if (sk->type == DM_SOCK_DGRAM && c == DM_SO_REUSEADDR)
		v ? ip_set_option(sk->pcb.udp, SOF_REUSEADDR) : ip_reset_option(sk->pcb.udp, SOF_REUSEADDR);
	return 0;
}

/* getsockopt(fd, level, name, val, len*) */
int64_t sys_getsockopt(SYSFILE_ARGS)
{
	struct sock *sk;
	int err = sock_of((int64_t)a, &sk, NULL);
	struct dm_timeval tv;
	int32_t len, size = c == DM_SO_RCVTIMEO || c == DM_SO_SNDTIMEO ? (int32_t)sizeof(tv) : (int32_t)sizeof(int);
	int v;
	const void *src = &v;

	if (err)
		return err;
	if (copy_from_user(uvm(), &len, e_, sizeof(len)))
		return -EFAULT;
	if (len < size)
		return -EINVAL;         /* before SO_ERROR is taken */
	if (b == DM_SOL_SOCKET) {
		switch (c) {
		case DM_SO_REUSEADDR:   v = sk->reuse; break;
		case DM_SO_KEEPALIVE:   v = sk->keepalive; break;
		case DM_SO_TYPE:        v = sk->type; break;
		case DM_SO_ERROR:       v = take_err(sk); break;
		case DM_SO_SNDBUF:      v = sk->type == DM_SOCK_STREAM ? TCP_SND_BUF : UDP_MAX; break;
		case DM_SO_RCVBUF:      v = sk->type == DM_SOCK_STREAM ? TCP_WND : UDP_RCVBUF; break;
		case DM_SO_RCVTIMEO:
		case DM_SO_SNDTIMEO: {
			uint64_t ns = c == DM_SO_RCVTIMEO ? sk->rcvtimeo_ns : sk->sndtimeo_ns;
			tv = (struct dm_timeval){ (int64_t)(ns / 1000000000), (int64_t)(ns % 1000000000 / 1000) };
			src = &tv;
			break;
		}
		default:
			return -ENOPROTOOPT;
		}
	} else if (b == DM_IPPROTO_TCP && sk->type == DM_SOCK_STREAM && c == DM_TCP_NODELAY) {
		v = sk->nodelay;
	} else {
		return -ENOPROTOOPT;
	}
	if (copy_to_user(uvm(), d, src, (size_t)size))
		return -EFAULT;
	return copy_to_user(uvm(), e_, &size, sizeof(size));
}

int64_t sys_getsockname(SYSFILE_ARGS)
{
	struct sock *sk;
	ip_addr_t ip;
	u16_t port;
	int err = sock_of((int64_t)a, &sk, NULL);

	if (err)
		return err;
	if (sk->type == DM_SOCK_STREAM && sk->pcb.tcp)
		tcp_remember(sk);
	else if (sk->type == DM_SOCK_DGRAM && sk->pcb.udp) {
		ip_addr_copy(sk->local_ip, sk->pcb.udp->local_ip);
		sk->local_port = sk->pcb.udp->local_port;
	}
	ip_addr_copy(ip, sk->local_ip);
	port = sk->local_port;
	return put_addr(b, c, &ip, port);
}

int64_t sys_getpeername(SYSFILE_ARGS)
{
	struct sock *sk;
	int err = sock_of((int64_t)a, &sk, NULL);

	if (err)
		return err;
	if (sk->state != SS_CONNECTED || !sk->pcb.any)
		return -ENOTCONN;
	if (sk->type == DM_SOCK_STREAM)
		return put_addr(b, c, &sk->pcb.tcp->remote_ip, sk->pcb.tcp->remote_port);
	return put_addr(b, c, &sk->pcb.udp->remote_ip, sk->pcb.udp->remote_port);
}
