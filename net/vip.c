/*
 * The cluster IP (see vip.h and docs/net.md). The hub repeats every frame
 * to every node, so every node receives every frame sent to the VIP; this
 * file decides, frame by frame and before lwIP sees it, which node takes
 * it, so that exactly one node's lwIP answers:
 *
 *   - ARP requests for the VIP: the leader (porttab_leader) answers with
 *     the cluster MAC (which is never any frame's source);
 *   - TCP: a node takes the segments of connections it has (lwIP's active
 *     and TIME-WAIT pcbs, by 4-tuple), and the SYNs of the connections
 *     claimed for it: every node looks every SYN up in the pool's claims
 *     (porttab_claim), and the first one gives the connection to the
 *     port's next listener in turn; when the tuple's claim set is full, the
 *     SYN goes to the owner of its bucket (a hash of the client's address
 *     and port), as everything but a SYN does;
 *   - UDP: the owner of the datagram's bucket;
 *   - what no service takes (no listener on the port, ICMP, fragments,
 *     other protocols): the leader, whose lwIP answers (a reset, an echo
 *     reply, port unreachable).
 * Every other node drops the frame. lwIP takes a frame for the VIP through
 * a second netif holding the VIP (/32, link down: ip4_input accepts on it,
 * ip4_route never sends through it), so answers leave through the card's
 * netif with the node's own MAC and the VIP as source.
 *
 * The listeners and bucket owners live in the pool's port table
 * (porttab.h), changed under its lease: vip_listen/vip_unlisten, the
 * node's joining and its withdrawing while its link is down, and a dead
 * node's cleanup by the survivors (vip_node_dead, from cluster.c). The
 * claims are in the same table, each set under a lease of its own, which
 * every node takes for every SYN to the VIP (and for nothing else).
 */
#include "kernel/kernel.h"
#include "kernel/cluster/cluster.h"
#include "net/porttab.h"
#include "net/vip.h"
#include "net/virtio_net.h"
#include "arch/arch.h"

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h"

_Static_assert(VIP_TCP == PORTTAB_TCP && VIP_UDP == PORTTAB_UDP, "one protocol numbering");

#define LEASE_WAIT_NS   2000000000ULL   /* vip_listen waits this long for the table */
#define POLL_WAIT_NS    100000000ULL    /* the network work and the dead hook: this long */
/* A SYN waits this long for its claim set's lease: the holder needs microseconds, unless
 * the host has descheduled its vCPU. Then the SYN is set aside and decided again on the
 * network work's next passes, for up to DEFER_NS: dropping it would cost the client a
 * retransmission (a second or more), and lose the connection if this node was its owner. */
#define CLAIM_WAIT_NS   5000000ULL
#define DEFER_MAX       8               /* SYNs set aside at once; past that they are dropped */
#define DEFER_NS        500000000ULL
#define FRAME_MAX       1514
#define LOCAL_MAX       64              /* listeners of this node */

#define ETH_HDR         14
#define ETH_ARP         0x0806
#define ETH_IP          0x0800
#define ARP_LEN         28

static struct porttab tab;
static bool attached;                   /* the pool's table is ours to use */
static enum { OFF, WAITING, ON, REFUSED } mode = WAITING;
static bool member;                     /* in the bucket tables (joined, link up) */
static bool link_up = true;             /* what the card said last */
static uint32_t vip_h;                  /* the VIP, a<<24|..., as the table has it */
static uint64_t dead_pending;           /* nodes whose cleanup waits for the lease */
static uint64_t dead_epoch[MAX_NODES];
static struct netif vipif;

static struct local {
	bool used, closing;             /* closing: to drop from the pool, lease permitting */
	uint8_t proto;
	uint16_t port;
	int pid;
	int ent;                        /* the pool entry, -1 while not entered */
} local[LOCAL_MAX];

static struct {
	uint64_t taken, others, leader, arp, malformed;
	uint64_t claimed, evicted, busy;        /* SYNs: claims made, of them evicting, given up */
	uint64_t deferred;                      /* SYNs set aside for a busy claim set */
} st;

static struct deferred {                /* a SYN waiting for its claim set's lease */
	uint64_t since;
	uint16_t len;
	uint8_t frame[FRAME_MAX];
} deferred[DEFER_MAX];
static unsigned ndeferred;

static uint64_t my_epoch(void)
{
	return __atomic_load_n(&pool.nodes[self.id].epoch, __ATOMIC_ACQUIRE);
}

static bool alive(void *ctx, int node, uint64_t epoch)
{
	(void)ctx;
	return node_alive(node, epoch);
}

/* Take the table's lease; a dead holder's half-done change is made whole. */
static int lock(uint64_t wait_ns)
{
	int r = lease_acquire(pool_lease(POOL_LEASE_PORTS), self.id, my_epoch(), alive, NULL,
			      wait_ns);

	if (r == LEASE_TAKEN_OVER)
		porttab_repair(&tab);
	return r < 0 ? r : 0;
}

static void unlock(void)
{
	if (lease_release(pool_lease(POOL_LEASE_PORTS), self.id, my_epoch()))
		printk("node %d: vip: the port table's lease was broken under us\n", self.id);
}

/* The cluster MAC of a VIP: locally administered unicast, 02:44:4d and the VIP's low bytes. */
static void cluster_mac(uint32_t vip, uint8_t mac[6])
{
	mac[0] = 0x02, mac[1] = 0x44, mac[2] = 0x4d;
	mac[3] = (uint8_t)(vip >> 16), mac[4] = (uint8_t)(vip >> 8), mac[5] = (uint8_t)vip;
}

/* A unicast address as a<<24|...; 0 for text that is none. */
static uint32_t parse(const char *text)
{
	ip4_addr_t a;

	if (!ip4addr_aton(text, &a) || ip4_addr_isany(&a) || ip4_addr_ismulticast(&a) ||
	    ip4_addr_get_u32(&a) == IPADDR_BROADCAST)
		return 0;
	return lwip_ntohl(ip4_addr_get_u32(&a));
}

/* vip= (into text), or the default; 0 for a vip= that is no unicast address. */
static uint32_t vip_arg(char *text, size_t n)
{
	if (!cmdline_get("vip", text, n))
		strlcpy(text, VIP_DEFAULT, n);
	return parse(text);
}

static const char *addr_text(uint32_t h)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
	return buf;
}

int vip_format_pool(void *area)
{
	char text[32];
	uint8_t mac[6];
	uint32_t vip = vip_arg(text, sizeof(text));

	if (!vip) {
		printk("node %d: vip: vip=%s is no unicast address; the pool gets %s\n", self.id,
		       text, VIP_DEFAULT);
		vip = parse(VIP_DEFAULT);
	}
	cluster_mac(vip, mac);
	return porttab_format(area, POOL_NPORTS, POOL_NSVCS, POOL_NCLAIM_SETS, vip, mac);
}

void vip_attach_pool(void *area)
{
	attached = porttab_attach(&tab, area, self.id) == 0;
	if (!attached) {
		mode = OFF;
		printk("node %d: vip: the pool's port table is not one this kernel reads; no VIP\n",
		       self.id);
	}
}

/* --- listeners ------------------------------------------------------------ */

/* Enter the listeners not in the pool yet, drop the closing ones. Under the lease. */
static void sync_locked(void)
{
	uint64_t e = my_epoch();

	for (int i = 0; i < LOCAL_MAX; i++) {
		struct local *l = &local[i];

		if (!l->used)
			continue;
		if (l->closing) {
			if (l->ent >= 0)
				porttab_unlisten(&tab, l->ent, e);
			*l = (struct local){ 0 };
		} else if (l->ent < 0) {
			l->ent = porttab_listen(&tab, l->proto, l->port, l->pid, e);
			if (l->ent < 0) {
				printk("node %d: vip: no room in the port table for %s %u (pid %d)\n",
				       self.id, l->proto == VIP_TCP ? "tcp" : "udp", l->port, l->pid);
				*l = (struct local){ 0 };
			}
		}
	}
}

int vip_listen(int proto, uint16_t port, int pid)
{
	int h = -1;

	if ((proto != VIP_TCP && proto != VIP_UDP) || !port)
		return -EINVAL;
	if (mode == OFF || mode == REFUSED)
		return -EHOSTDOWN;
	for (int i = 0; i < LOCAL_MAX && h < 0; i++)
		if (!local[i].used)
			h = i;
	if (h < 0)
		return -ENOSPC;
	local[h] = (struct local){ true, false, (uint8_t)proto, port, pid, -1 };
	if (mode != ON)
		return h;               /* entered once the node is in the cluster */
	int err = lock(LEASE_WAIT_NS);
	if (err) {
		local[h] = (struct local){ 0 };
		return err;
	}
	local[h].ent = porttab_listen(&tab, proto, port, pid, my_epoch());
	unlock();
	if (local[h].ent < 0) {
		err = local[h].ent;
		local[h] = (struct local){ 0 };
		return err;
	}
	return h;
}

void vip_unlisten(int handle)
{
	if (handle < 0 || handle >= LOCAL_MAX || !local[handle].used)
		return;
	struct local *l = &local[handle];
	if (l->ent < 0) {
		*l = (struct local){ 0 };
		return;
	}
	l->closing = true;
	if (mode == ON && !lock(POLL_WAIT_NS)) {  /* else the network work retries */
		sync_locked();
		unlock();
	}
}

/* --- the node in the cluster ------------------------------------------------ */

static err_t vipif_output(struct netif *n, struct pbuf *p, const ip4_addr_t *ip)
{
	(void)n, (void)p, (void)ip;
	return ERR_RTE;                 /* never routed through: its link stays down */
}

static err_t vipif_init(struct netif *n)
{
	n->name[0] = 'v';
	n->name[1] = 'p';
	n->mtu = VNET_FRAME_MAX - ETH_HDR;
	n->flags = 0;                   /* no ARP, no broadcast: the filter answers ARP */
	n->output = vipif_output;
	return ERR_OK;
}

/* Check the pool's VIP against ours and bring it up; once, when the node has joined. */
static void start(struct netif *nif)
{
	char text[32];
	uint32_t want = vip_arg(text, sizeof(text));
	ip4_addr_t a, mask, gw;
	const uint8_t *m = tab.hdr->mac;

	vip_h = tab.hdr->vip;
	if (want != vip_h) {
		printk("node %d: vip: vip=%s, but the cluster's VIP is %s (set when the pool was "
		       "formatted); this node serves no VIP\n", self.id, text, addr_text(vip_h));
		mode = REFUSED;
		return;
	}
	if (vip_h == lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(nif)))) {
		printk("node %d: vip: %s is this node's own address; this node serves no VIP\n",
		       self.id, addr_text(vip_h));
		mode = REFUSED;
		return;
	}
	ip4_addr_set_u32(&a, lwip_htonl(vip_h));
	IP4_ADDR(&mask, 255, 255, 255, 255);
	ip4_addr_set_zero(&gw);
	netif_add(&vipif, &a, &mask, &gw, NULL, vipif_init, netif_input);
	netif_set_up(&vipif);
	if (lock(LEASE_WAIT_NS)) {
		printk("node %d: vip: the port table's lease stays taken; this node serves no VIP\n",
		       self.id);
		netif_remove(&vipif);
		mode = REFUSED;
		return;
	}
	mode = ON;
	uint32_t stale = 0;
	if (link_up) {
		stale = porttab_join(&tab, my_epoch());
		member = true;
	}
	sync_locked();
	unlock();
	printk("node %d: vip: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, %s%s\n", self.id,
	       addr_text(vip_h), m[0], m[1], m[2], m[3], m[4], m[5],
	       member ? "serving" : "link down: not serving yet",
	       stale ? " (dropped listeners of this node's earlier life)" : "");
}

void vip_link(bool up)
{
	link_up = up;
	if (mode != ON || up == member || lock(POLL_WAIT_NS))
		return;                 /* not in yet, nothing to do, or retried by vip_poll */
	if (up)
		porttab_join(&tab, my_epoch());
	else
		porttab_leave(&tab);
	member = up;
	unlock();
	printk("node %d: vip: link %s: %s the bucket tables\n", self.id, up ? "up" : "down",
	       up ? "back in" : "withdrawn from");
}

/* Drop the listeners of the dead nodes not dealt with yet, lease permitting. */
static void bury_pending(void)
{
	if (lock(POLL_WAIT_NS))
		return;                 /* vip_poll tries again */
	for (int n = 0; n < MAX_NODES; n++) {
		if (!(dead_pending >> n & 1))
			continue;
		uint32_t k = porttab_node_dead(&tab, n, dead_epoch[n]);
		if (k)
			printk("node %d: vip: dropped %u listeners of dead node %d; its buckets "
			       "moved to the others\n", self.id, k, n);
	}
	dead_pending = 0;
	unlock();
}

void vip_node_dead(int node, uint64_t epoch)
{
	if (!attached || node < 0 || node >= MAX_NODES)
		return;
	dead_pending |= 1ULL << node;
	if (epoch > dead_epoch[node])
		dead_epoch[node] = epoch;
	bury_pending();
}

static void retry_deferred(struct netif *nif);

void vip_poll(struct netif *nif)
{
	if (mode == OFF || mode == REFUSED)
		return;
	if (!attached) {                /* the network work runs once pool_init() is done */
		printk("node %d: vip: no pool, so no port table: this node serves no VIP\n",
		       self.id);
		mode = OFF;
		return;
	}
	if (dead_pending)
		bury_pending();         /* a survivor's duty, whatever our own state */
	if (mode == WAITING) {
		if (pool.joined)
			start(nif);
		return;
	}
	if (link_up != member)
		vip_link(link_up);
	if (ndeferred)
		retry_deferred(nif);
	for (int i = 0; i < LOCAL_MAX; i++)
		if (local[i].used && local[i].closing) {
			if (!lock(POLL_WAIT_NS)) {
				sync_locked();
				unlock();
			}
			break;
		}
}

/* --- the frame filter --------------------------------------------------------- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool leader(void)
{
	return porttab_leader(&tab) == self.id;
}

/* An ARP request for the VIP: the leader answers with the cluster MAC. */
static void arp_answer(const uint8_t *f)
{
	const uint8_t *a = f + ETH_HDR;
	uint8_t *o = vnet_tx_buf();

	if (!o)
		return;                 /* the requester asks again */
	memcpy(o, a + 8, 6);                    /* to the requester */
	memcpy(o + 6, vnet_mac(), 6);           /* from this node: the cluster MAC is no source */
	o[12] = ETH_ARP >> 8, o[13] = ETH_ARP & 255;
	uint8_t *r = o + ETH_HDR;
	memcpy(r, a, 6);                        /* htype, ptype, hlen, plen */
	r[6] = 0, r[7] = 2;                     /* a reply */
	memcpy(r + 8, tab.hdr->mac, 6);         /* the VIP is at the cluster MAC */
	memcpy(r + 14, a + 24, 4);
	memcpy(r + 18, a + 8, 10);              /* the requester's MAC and address */
	memset(r + ARP_LEN, 0, 60 - ETH_HDR - ARP_LEN);
	if (!vnet_tx_send(60))
		st.arp++;
}

/* Does this node have the TCP connection? (lwIP's pcbs: addresses in network
 * byte order, ports in host order) */
static bool have_conn(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	struct tcp_pcb *lists[] = { tcp_active_pcbs, tcp_tw_pcbs };

	for (unsigned i = 0; i < 2; i++)
		for (struct tcp_pcb *p = lists[i]; p; p = p->next)
			if (p->local_port == dport && p->remote_port == sport &&
			    ip4_addr_get_u32(&p->remote_ip) == src &&
			    ip4_addr_get_u32(&p->local_ip) == dst)
				return true;
	return false;
}

/* Who takes a flow of (proto, port) from client addr:cport: the owner, or the leader. */
static bool mine(int proto, uint16_t port, uint32_t addr, uint16_t cport)
{
	int o = porttab_owner(&tab, proto, port, porttab_bucket(addr, cport));

	return o == -ENOENT ? leader() : o == self.id;
}

static bool take(bool yes, bool by_leader)
{
	if (yes)
		st.taken++, st.leader += by_leader;
	else
		st.others++;
	return yes;
}

/*
 * The filter's decision for frame f with a claim set's lease waited for up
 * to wait_ns. Return: 1 for this node's lwIP, 0 to drop it, -1 when the
 * frame is a SYN whose claim set stayed busy (nothing counted yet).
 */
static int decide(const uint8_t *f, unsigned len, uint64_t wait_ns)
{
	if (mode != ON && mode != REFUSED)
		return true;            /* no VIP yet: lwIP drops what is not its own */
	uint16_t type = be16(f + 12);
	if (type == ETH_ARP) {
		const uint8_t *a = f + ETH_HDR;
		if (len < ETH_HDR + ARP_LEN || be16(a) != 1 || be16(a + 2) != ETH_IP || a[4] != 6 ||
		    a[5] != 4)
			return true;    /* not IPv4 over Ethernet: lwIP's to drop */
		bool to_vip = be32(a + 24) == vip_h, from_vip = be32(a + 14) == vip_h;
		if (!to_vip && !from_vip)
			return true;
		if (mode == ON && to_vip && be16(a + 6) == 1 && leader())
			arp_answer(f);
		return false;           /* lwIP must not learn or answer for the VIP */
	}
	if (type != ETH_IP || len < ETH_HDR + 20)
		return true;
	const uint8_t *ip = f + ETH_HDR;
	if (be32(ip + 16) != vip_h)
		return true;            /* not the VIP's */
	if (mode != ON)
		return false;           /* the VIP is refused here: the others serve it */
	unsigned ihl = (ip[0] & 15) * 4u, tot = be16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || tot > len - ETH_HDR) {
		st.malformed++;
		return false;
	}
	if (be16(ip + 6) & 0x3fff)      /* a fragment (MF or an offset): no ports to look at */
		return take(leader(), true);
	const uint8_t *l4 = ip + ihl;
	unsigned l4len = tot - ihl;
	uint32_t src = be32(ip + 12);
	if (ip[9] == VIP_TCP) {
		if (l4len < 20) {
			st.malformed++;
			return false;
		}
		uint16_t sport = be16(l4), dport = be16(l4 + 2);
		uint8_t flags = l4[13];
		if (have_conn(lwip_htonl(src), sport, lwip_htonl(vip_h), dport))
			return take(true, false);
		if ((flags & (TCP_SYN | TCP_ACK)) != TCP_SYN) {
			/* a stray segment of someone else's connection (or of one that died
			 * with its node) to nobody; if nobody listens, the leader resets it */
			if (porttab_owner(&tab, VIP_TCP, dport, porttab_bucket(src, sport)) == -ENOENT)
				return take(leader(), true);
			return take(false, false);
		}
		enum porttab_how how = PT_FOLLOWED;
		int o = porttab_claim(&tab, my_epoch(), dport, src, sport,
				      (uint64_t)clock_realtime_ns(), alive, NULL, wait_ns, &how);
		if (o == -ENOENT)       /* nobody listens: the leader's lwIP resets it */
			return take(leader(), true);
		if (o < 0)              /* the claim set's lease stayed taken */
			return -1;
		st.claimed += how == PT_CLAIMED || how == PT_RETAKEN;
		st.evicted += how == PT_EVICTED;
		return take(o == self.id, false);
	}
	if (ip[9] == VIP_UDP) {
		if (l4len < 8) {
			st.malformed++;
			return false;
		}
		return take(mine(VIP_UDP, be16(l4 + 2), src, be16(l4)), false);
	}
	return take(leader(), true);    /* ICMP (ping) and the rest */
}

bool vip_filter(const uint8_t *f, unsigned len)
{
	int r = decide(f, len, CLAIM_WAIT_NS);

	if (r >= 0)
		return r;
	if (ndeferred == DEFER_MAX || len > FRAME_MAX) {
		st.busy++;              /* dropped: the client sends it again */
		return take(false, false);
	}
	struct deferred *d = &deferred[ndeferred++];
	d->since = arch_time_ns();
	d->len = (uint16_t)len;
	memcpy(d->frame, f, len);
	st.deferred++;
	return false;
}

/* Decide the SYNs set aside again; those for this node go up to lwIP on nif. */
static void retry_deferred(struct netif *nif)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < ndeferred; i++) {
		struct deferred *d = &deferred[i];
		int r = decide(d->frame, d->len, 0);

		if (r < 0 && arch_time_ns() - d->since < DEFER_NS) {
			if (kept != i)
				deferred[kept] = *d;
			kept++;
			continue;
		}
		if (r < 0) {
			st.busy++;
			take(false, false);
		} else if (r > 0) {
			struct pbuf *p = pbuf_alloc(PBUF_RAW, d->len, PBUF_POOL);

			if (p && (pbuf_take(p, d->frame, d->len) != ERR_OK ||
				  nif->input(p, nif) != ERR_OK))
				pbuf_free(p);
		}
	}
	ndeferred = kept;
}

/* --- the view ------------------------------------------------------------------ */

void vip_show(void)
{
	static const char *const modes[] = { "off", "waiting to join the cluster", "on",
					     "refused (see the boot lines)" };

	if (!attached) {
		printk("net: vip: none (no pool)\n");
		return;
	}
	const uint8_t *m = tab.hdr->mac;
	printk("net: vip %s mac %02x:%02x:%02x:%02x:%02x:%02x: %s, %s, leader node %d\n",
	       addr_text(tab.hdr->vip), m[0], m[1], m[2], m[3], m[4], m[5], modes[mode],
	       member ? "member" : "not a member", porttab_leader(&tab));
	printk("net: vip frames: %lu taken (%lu as leader), %lu left to others, %lu malformed, "
	       "%lu arp answered\n", st.taken, st.leader, st.others, st.malformed, st.arp);
	const struct porttab_claims *c = tab.claims;
	printk("net: vip claims: %u live of %u, %lu taken (%lu void ones again, %lu in the way of a "
	       "full set's oldest), %lu given up busy; this node claimed %lu (%lu evicting), set aside %lu "
	       "SYNs for a busy set, gave up %lu\n",
	       porttab_claims_live(&tab, (uint64_t)clock_realtime_ns(), alive, NULL, NULL),
	       c->nsets * PORTTAB_WAYS, __atomic_load_n(&c->taken, __ATOMIC_RELAXED),
	       __atomic_load_n(&c->retaken, __ATOMIC_RELAXED),
	       __atomic_load_n(&c->full, __ATOMIC_RELAXED),
	       __atomic_load_n(&c->busy, __ATOMIC_RELAXED), st.claimed, st.evicted, st.deferred,
	       st.busy);
	for (uint32_t i = 0; i < tab.hdr->nsvcs; i++) {
		const struct porttab_svc *s = &tab.svc[i];
		uint32_t key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		uint32_t count[MAX_NODES] = { 0 };
		char line[256];
		int len = 0;

		if (!key)
			continue;
		for (uint32_t b = 0; b < PORTTAB_BUCKETS; b++) {
			uint8_t o = __atomic_load_n(&s->owner[b], __ATOMIC_RELAXED);
			if (o < MAX_NODES)
				count[o]++;
		}
		for (uint32_t k = 0; k < tab.hdr->nents && len < (int)sizeof(line); k++) {
			const struct porttab_ent *e = &tab.ent[k];
			if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == PT_LISTEN &&
			    PORTTAB_KEY(e->proto, e->port) == key)
				len += snprintf(line + len, sizeof(line) - len, " %u/%d/%lu", e->node,
						e->pid, e->epoch);
		}
		printk("net: vip %s %u: listeners (node/pid/epoch)%s\n",
		       key >> 16 == VIP_TCP ? "tcp" : "udp", key & 0xffff, len ? line : " none");
		len = 0;
		for (int n = 0; n < MAX_NODES && len < (int)sizeof(line); n++)
			if (count[n])
				len += snprintf(line + len, sizeof(line) - len, " node %d %u", n, count[n]);
		printk("net: vip %s %u: buckets of %u:%s; %lu turns\n",
		       key >> 16 == VIP_TCP ? "tcp" : "udp", key & 0xffff, PORTTAB_BUCKETS,
		       len ? line : " nobody", __atomic_load_n(&s->turns, __ATOMIC_RELAXED));
	}
}

uint32_t vip_address(void)
{
	return netif_is_up(&vipif) ? ip4_addr_get_u32(netif_ip4_addr(&vipif)) : 0;
}
