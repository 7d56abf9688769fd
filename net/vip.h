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
 * vip_address - the cluster IP this node serves
 * Context: any. Return: the VIP in network byte order, or 0 while this
 * node serves none (not yet joined, or its vip= disagreed with the pool).
 */
uint32_t vip_address(void);

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

/**
 * vip_poll - bring the VIP up once the node is in the cluster, then keep it
 * @nif: the card's netif (its address must not be the VIP)
 *
 * The first pass after the node joined checks the pool's VIP against vip=,
 * adds the VIP's netif, joins the bucket tables and enters the listeners
 * registered so far; later passes retry what had to wait for the lease (a
 * dead node's cleanup, a link change, a closed listener).
 * Context: the network work, every pass; cheap when there is nothing to do.
 */
void vip_poll(struct netif *nif);

/**
 * vip_link - the card's link went up or down
 * @up: its new state
 * Join every bucket table again, or withdraw from them all (the node keeps
 * its listeners, the others take its buckets meanwhile).
 * Context: the network work (netif.c's link poll).
 */
void vip_link(bool up);

/**
 * vip_filter - is a received frame for this node's lwIP?
 * @frame: the Ethernet frame
 * @len: its bytes, VNET_FRAME_MIN or more
 *
 * Frames for the VIP go to the node that takes them (docs/net.md); ARP
 * requests for the VIP are answered here; malformed ones are counted.
 * Context: the network work, before the frame becomes a pbuf.
 * Return: true to hand it to lwIP (every frame not for the VIP, and the
 * VIP's this node takes), false to drop it.
 */
bool vip_filter(const uint8_t *frame, unsigned len);

/**
 * vip_show - print the VIP, its MAC, this node's part and counters, and
 * each port's listeners and buckets per node (the monitor's `net`)
 * Context: kernel thread.
 */
void vip_show(void);

#endif
