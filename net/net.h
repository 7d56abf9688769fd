/*
 * The node's network: the virtio-net card (net/virtio_net.c) under lwIP
 * (net/netif.c), with a TCP echo service, all run by one work of the
 * kernel thread. See docs/net.md.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>

#define NET_ECHO_PORT   7       /* the built-in TCP echo service (RFC 862) */

/**
 * net_init - bring up the card, lwIP, the node's address and the echo service
 *
 * The address is ip= on the command line: dhcp, or a dotted IPv4 address;
 * without it 10.0.2.(15 + node id), slirp's segment (docs/net.md). Without
 * a card the node runs without a network and says so.
 *
 * Context: kmain(), before kthread_loop() (it registers the network work).
 */
void net_init(void);

/**
 * net_up - is lwIP running (a card was found and set up)?
 * Context: any. Return: true once net_init() brought it up.
 */
bool net_up(void);

/**
 * net_kick - have the network work run on the kernel thread's next pass:
 * lwIP queued packets to one of the node's own addresses (its loopback
 * queue), which only the network work delivers
 * Context: any.
 */
void net_kick(void);

struct netif;

/**
 * net_spoofed - is frame (len bytes, from the card) an IPv4 packet whose
 * sender is on n's segment but ARP knows that sender at another MAC?
 * (net/spoof.c: slirp answers in other nodes' names.)
 * Context: the network work. Return: true to drop it.
 */
bool net_spoofed(struct netif *n, const void *frame, unsigned len);

/* Print the card, address, link and counters (the monitor's `net`). Context: kernel thread. */
void net_show(void);

#endif
