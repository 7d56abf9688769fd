/*
 * The cluster IP (VIP): one IPv4 address that the whole cluster answers
 * on, besides each node's own, with each connection served by one of the
 * nodes that listen on its port (net/vip.c; the table in the pool is
 * net/porttab.h; docs/net.md has the design). This header declares no
 * lwIP type, so the cluster layer (pool.c, cluster.c) includes it too.
 */
#ifndef NET_VIP_H
#define NET_VIP_H

#include <stdbool.h>
#include <stdint.h>

#define VIP_DEFAULT     "10.0.2.100"    /* on slirp's 10.0.2.0/24, away from nodes and DHCP */
#define VIP_TCP         6               /* vip_listen's protocols: IP's numbers */
#define VIP_UDP         17

/**
 * vip_format_pool - lay the port table out in a pool being formatted
 * @area: the port table's area (the superblock's port_off), all zeroes
 *
 * The VIP is vip= on the formatter's command line (A.B.C.D), else
 * VIP_DEFAULT; the cluster MAC is derived from it. A vip= that is no
 * usable address is said, and the pool gets VIP_DEFAULT.
 * Context: pool.c's format(), before the pool's magic is written.
 * Return: 0, or -EINVAL if the area cannot be formatted.
 */
int vip_format_pool(void *area);

/* Take the pool's port table (the area at port_off). Context: pool_init(). */
void vip_attach_pool(void *area);

/**
 * vip_listen - serve (@proto, @port) of the VIP from this node too
 * @proto: VIP_TCP or VIP_UDP
 * @port: the port, not 0
 * @pid: the listening process, 0 for the kernel's own services
 *
 * The node joins the port's bucket table in the pool: from now on it
 * takes its share of the new connections (TCP) or datagrams (UDP) sent to
 * VIP:port. Listeners registered before the node has joined the cluster
 * are entered in the pool when it has. The caller's lwIP pcb listens on
 * IP_ADDR_ANY or the VIP; this call only decides which node's lwIP sees
 * the frames.
 * Context: kernel thread or a system call, not an interrupt; may spin on
 * the port table's lease for up to 2 s.
 * Return: a handle (>= 0) for vip_unlisten; -EINVAL (bad protocol or
 * port), -ENOSPC (no room here or in the pool's table), -ETIMEDOUT (the
 * table's lease stayed taken), -EHOSTDOWN (this node serves no VIP: see
 * its boot lines).
 */
int vip_listen(int proto, uint16_t port, int pid);

/**
 * vip_unlisten - stop serving what vip_listen(@handle) started
 * The node's buckets of that port move to the other listeners (if it has
 * no other listener there). A handle not in use is ignored.
 * Context: kernel thread or a system call, not an interrupt.
 */
void vip_unlisten(int handle);

/**
 * vip_node_dead - a node is dead: drop its listeners, refill the buckets
 * @node: the dead node
 * @epoch: its incarnation that died
 * Context: cluster.c's bury(), on every survivor (the first one does the work).
 */
void vip_node_dead(int node, uint64_t epoch);

/* --- for net/netif.c ---------------------------------------------------- */

struct netif;

/*
 * Bring the VIP up once the node is in the cluster: check the pool's VIP
 * against vip=, add the VIP's netif, join the bucket tables, enter the
 * listeners registered so far; then retry what had to wait for the lease.
 * Context: the network work, every pass; cheap when there is nothing to do.
 */
void vip_poll(struct netif *nif);

/* The card's link went up or down: join, or withdraw from, every bucket table. */
void vip_link(bool up);

/*
 * Is a received frame for this node's lwIP? Frames for the VIP go to the
 * node that owns them (docs/net.md); ARP requests for the VIP are answered
 * here. Every other frame is. Context: the network work.
 */
bool vip_filter(const uint8_t *frame, unsigned len);

/* The VIP, its MAC, the port table and the bucket owners (the monitor's `net`). */
void vip_show(void);

#endif
