/*
 * lwIP on the virtio-net card: the netif glue, the network work and the
 * TCP echo service.
 *
 * lwIP runs without an OS (lwipopts.h: NO_SYS), and only in the kernel
 * thread: the card's interrupts kick net_work (kernel/kthread.h), which
 * takes back the transmit buffers the device is done with, copies received
 * frames into pbufs and feeds them to lwIP, polls the link, and runs lwIP's
 * timers; it also runs every NET_PERIOD_MS for the timers. lwIP's output
 * comes back through linkoutput(), which copies the frame into one of the
 * driver's transmit buffers. System calls on sockets (net/socket.c) call
 * lwIP too: the kernel is not preempted, so each call runs alone. No
 * interrupt handler ever calls into lwIP.
 *
 * The echo service (RFC 862, port NET_ECHO_PORT) is lwIP's raw API: it
 * writes back what it received as the send buffer allows, and acknowledges
 * (tcp_recved) only what it wrote, so a client that does not read is slowed
 * down by its own window instead of filling the node's memory.
 */
#include "kernel/kernel.h"
#include "kernel/kthread.h"
#include "arch/arch.h"
#include "net/net.h"
#include "net/socket.h"
#include "net/virtio_net.h"
#include "net/vip.h"

#include <stdlib.h>             /* atoi, defined here for lwIP */

#include "lwip/init.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

_Static_assert(LWIP_VERSION_MAJOR == 2 && LWIP_VERSION_MINOR == 1,
	       "net/ is written against lwIP 2.1 (Debian's lwip source package)");

#define NET_PERIOD_MS   10      /* lwIP's timers: TCP's fastest is 250 ms */
#define LINK_POLL_MS    100     /* the card raises no interrupt of ours on a link change */
#define RX_BUDGET       64      /* frames per pass; more: kick for another pass */
#define ECHO_CHUNK      4096    /* bytes copied per tcp_write */

static struct netif nif;
static bool dhcp_on, lwip_up;
static uint64_t spoofed;                /* frames net_spoofed() dropped */
static uint64_t link_checked_ns;

/* The echo service's counters. */
static struct {
	uint64_t accepted, open, bytes, refused;
	int vip;                        /* its vip_listen handle: VIP:7 is the cluster's */
} echo;

uint32_t sys_now(void)
{
	return (uint32_t)(arch_time_ns() / 1000000);
}

uint32_t net_rand(void)
{
	uint64_t t = arch_time_ns() ^ ((uint64_t)self.id << 40);

	t ^= t >> 33;                   /* a splitmix64 finalizer over the clock */
	t *= 0xff51afd7ed558ccdULL;
	t ^= t >> 33;
	return (uint32_t)t;
}

int atoi(const char *s)
{
	int v = 0, neg = *s == '-';

	s += neg || *s == '+';
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return neg ? -v : v;
}

/* lwIP's frame out: one transmit buffer per frame, copied from the pbuf chain. */
static err_t linkoutput(struct netif *n, struct pbuf *p)
{
	(void)n;
	if (p->tot_len > VNET_FRAME_MAX) {
		LINK_STATS_INC(link.lenerr);
		return ERR_BUF;
	}
	void *buf = vnet_tx_buf();
	if (!buf) {
		LINK_STATS_INC(link.memerr);
		return ERR_MEM;         /* TCP sends it again; others are lost, as on a wire */
	}
	pbuf_copy_partial(p, buf, p->tot_len, 0);
	if (vnet_tx_send(p->tot_len)) {
		LINK_STATS_INC(link.lenerr);
		return ERR_BUF;
	}
	LINK_STATS_INC(link.xmit);
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->name[0] = 'e';
	n->name[1] = 'n';
	n->mtu = VNET_FRAME_MAX - SIZEOF_ETH_HDR;
	n->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(n->hwaddr, vnet_mac(), ETH_HWADDR_LEN);
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	n->output = etharp_output;
	n->linkoutput = linkoutput;
	return ERR_OK;
}

/* A good frame from the driver: into a pool pbuf, up to lwIP. Return: kept. */
static bool deliver(const void *frame, unsigned len)
{
	struct pbuf *p;

	if (net_spoofed(&nif, frame, len)) {
		spoofed++;
		return true;            /* taken: dropped here, counted as spoofed */
	}
	if (!vip_filter(frame, len))
		return true;            /* the VIP's, and another node's to take (net/vip.c) */
	if (!(p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL)))
		return false;
	pbuf_take(p, frame, (u16_t)len);
	LINK_STATS_INC(link.recv);
	if (nif.input(p, &nif) != ERR_OK) {
		pbuf_free(p);
		return false;
	}
	return true;
}

static void poll_link(void)
{
	uint64_t now = arch_time_ns();
	if (now - link_checked_ns < LINK_POLL_MS * 1000000ULL)
		return;
	link_checked_ns = now;
	bool up = vnet_link_up();
	if (up == netif_is_link_up(&nif))
		return;
	if (up)
		netif_set_link_up(&nif);
	else
		netif_set_link_down(&nif);
	printk("net: link %s\n", up ? "up" : "down");
	vip_link(up);
}

static void net_fn(void);
static struct kwork net_work = { .name = "net", .fn = net_fn, .period_ms = NET_PERIOD_MS };

bool net_up(void)
{
	return lwip_up;
}

void net_kick(void)
{
	kthread_kick(&net_work);
}

static void net_fn(void)
{
	vnet_reclaim();
	if (vnet_rx(deliver, RX_BUDGET) == RX_BUDGET)
		kthread_kick(&net_work);        /* more may wait: the next pass takes them */
	netif_poll_all();                       /* packets to our own addresses */
	poll_link();
	vip_poll(&nif);
	sys_check_timeouts();
}

/* --- the echo service ---------------------------------------------------- */

struct echo_conn {
	struct pbuf *pending;           /* received, not yet written back */
	bool closing;                   /* the client closed: close once pending is out */
};

static void echo_free(struct tcp_pcb *pcb, struct echo_conn *c)
{
	if (pcb) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
		tcp_poll(pcb, NULL, 0);
	}
	if (c->pending)
		pbuf_free(c->pending);
	mem_free(c);
	echo.open--;
}

/* Write back what fits in the send buffer; close when done and asked to. */
static void echo_send(struct tcp_pcb *pcb, struct echo_conn *c)
{
	static uint8_t chunk[ECHO_CHUNK];

	while (c->pending) {
		u16_t n = LWIP_MIN(LWIP_MIN(c->pending->tot_len, tcp_sndbuf(pcb)), ECHO_CHUNK);
		if (!n)
			break;
		pbuf_copy_partial(c->pending, chunk, n, 0);
		if (tcp_write(pcb, chunk, n, TCP_WRITE_FLAG_COPY) != ERR_OK)
			break;          /* no memory or queue now: the sent or poll callback retries */
		c->pending = pbuf_free_header(c->pending, n);
		tcp_recved(pcb, n);     /* only now may the client send more */
		echo.bytes += n;
	}
	tcp_output(pcb);
	if (c->closing && !c->pending && tcp_close(pcb) == ERR_OK)
		echo_free(NULL, c);     /* lwIP owns the pcb now */
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct echo_conn *c = arg;

	if (err != ERR_OK) {
		if (p)
			pbuf_free(p);
		return err;
	}
	if (!p)
		c->closing = true;
	else if (c->pending)
		pbuf_cat(c->pending, p);
	else
		c->pending = p;
	echo_send(pcb, c);
	return ERR_OK;
}

static err_t echo_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)len;
	echo_send(pcb, arg);
	return ERR_OK;
}

static err_t echo_poll(void *arg, struct tcp_pcb *pcb)
{
	echo_send(pcb, arg);
	return ERR_OK;
}

/* The connection is gone (reset, or lwIP gave up): the pcb is freed already. */
static void echo_err(void *arg, err_t err)
{
	(void)err;
	if (arg)
		echo_free(NULL, arg);
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	struct echo_conn *c = mem_malloc(sizeof(*c));
	if (!c) {
		echo.refused++;
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	*c = (struct echo_conn){ 0 };
	echo.accepted++;
	echo.open++;
	tcp_arg(pcb, c);
	tcp_recv(pcb, echo_recv);
	tcp_sent(pcb, echo_sent);
	tcp_err(pcb, echo_err);
	tcp_poll(pcb, echo_poll, 2);    /* every second: retry a write or close that failed */
	tcp_nagle_disable(pcb);         /* echo at once, as a person typing expects */
	return ERR_OK;
}

static int echo_start(u16_t port)
{
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);

	if (!pcb)
		return -ENOMEM;
	if (tcp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
		tcp_close(pcb);
		return -EBUSY;
	}
	struct tcp_pcb *l = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
	if (!l) {
		tcp_close(pcb);
		return -ENOMEM;
	}
	tcp_accept(l, echo_accept);
	return 0;
}

/* --- set-up and the monitor ---------------------------------------------- */

/* ip= from the command line, or 10.0.2.(15 + id). Return: 0, or -EINVAL. */
static int pick_address(ip4_addr_t *ip, char *how, size_t n)
{
	char arg[32];

	if (!cmdline_get("ip", arg, sizeof(arg))) {
		IP4_ADDR(ip, 10, 0, 2, 15 + self.id);
		strlcpy(how, "static", n);
		return 0;
	}
	if (!strcmp(arg, "dhcp")) {
		ip4_addr_set_zero(ip);
		dhcp_on = true;
		strlcpy(how, "DHCP", n);
		return 0;
	}
	if (!ip4addr_aton(arg, ip) || ip4_addr_isany(ip) || ip4_addr_ismulticast(ip))
		return -EINVAL;
	strlcpy(how, "static, from ip=", n);
	return 0;
}

void net_init(void)
{
	ip4_addr_t ip, mask, gw;
	char how[24];

	if (self.id + 15 > 254) {       /* cannot happen below NODES_MAX, but say it */
		printk("net: node %d has no address on 10.0.2.0/24; no network\n", self.id);
		return;
	}
	if (pick_address(&ip, how, sizeof(how))) {
		printk("net: bad ip= on the command line (dhcp or A.B.C.D); no network\n");
		return;
	}
	if (vnet_init(&net_work))
		return;                 /* no card: it said why, or there is none */
	lwip_init();
	IP4_ADDR(&mask, 255, 255, 255, 0);
	IP4_ADDR(&gw, 10, 0, 2, 2);     /* slirp's gateway */
	if (dhcp_on)
		ip4_addr_set_zero(&mask), ip4_addr_set_zero(&gw);
	netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ethernet_input);
	netif_set_default(&nif);
	netif_set_up(&nif);
	if (vnet_link_up())
		netif_set_link_up(&nif);        /* announces the address (gratuitous ARP) */
	link_checked_ns = arch_time_ns();
	if (dhcp_on && dhcp_start(&nif) != ERR_OK)
		printk("net: cannot start DHCP\n");
	int err = echo_start(NET_ECHO_PORT);
	if (!err && (echo.vip = vip_listen(VIP_TCP, NET_ECHO_PORT, 0)) < 0)
		printk("net: the echo service is not on the cluster IP (%d)\n", echo.vip);
	kthread_register(&net_work);
	lwip_up = true;
	const uint8_t *m = vnet_mac();
	char addr[24] = "by DHCP";
	if (!dhcp_on)
		snprintf(addr, sizeof(addr), "%s/24", ip4addr_ntoa(&ip));
	printk("net: virtio-net %02x:%02x:%02x:%02x:%02x:%02x, %s (%s), gateway 10.0.2.2, "
	       "link %s, tcp echo on port %d%s\n", m[0], m[1], m[2], m[3], m[4], m[5], addr,
	       how, netif_is_link_up(&nif) ? "up" : "down", NET_ECHO_PORT,
	       err ? " failed" : "");
}

void net_show(void)
{
	struct vnet_stats s;

	if (!vnet_present()) {
		printk("net: no network card\n");
		return;
	}
	vnet_get_stats(&s);
	const uint8_t *m = vnet_mac();
	printk("net: mac %02x:%02x:%02x:%02x:%02x:%02x ip %s/%d (%s) link %s\n",
	       m[0], m[1], m[2], m[3], m[4], m[5], ip4addr_ntoa(netif_ip4_addr(&nif)),
	       32 - __builtin_popcount(~lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&nif)))),
	       dhcp_on ? "DHCP" : "static", netif_is_link_up(&nif) ? "up" : "down");
	printk("net: rx %lu frames %lu bytes, tx %lu frames %lu bytes\n",
	       s.rx_frames, s.rx_bytes, s.tx_frames, s.tx_bytes);
	printk("net: dropped %lu (runt %lu, oversize %lu, bad buffer %lu, no room %lu), "
	       "tx not sent %lu (ring full %lu, oversize %lu)\n",
	       s.rx_runt + s.rx_oversize + s.rx_badid + s.rx_refused, s.rx_runt, s.rx_oversize,
	       s.rx_badid, s.rx_refused, s.tx_full + s.tx_oversize, s.tx_full, s.tx_oversize);
	printk("net: lwip dropped: link %u, arp %u, ip %u, icmp %u, udp %u, tcp %u; spoofed %lu\n",
	       lwip_stats.link.drop, lwip_stats.etharp.drop, lwip_stats.ip.drop,
	       lwip_stats.icmp.drop, lwip_stats.udp.drop, lwip_stats.tcp.drop, spoofed);
	printk("net: echo on tcp port %d: %lu accepted, %lu open, %lu refused, %lu bytes\n",
	       NET_ECHO_PORT, echo.accepted, echo.open, echo.refused, echo.bytes);
	vip_show();
	sock_show();
}
