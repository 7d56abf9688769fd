/*
 * The node's network: the virtio-net card (net/virtio_net.c) under lwIP
 * (net/netif.c), with a TCP echo service, all run by one work of the
 * kernel thread. See docs/net.md.
 */
#ifndef NET_NET_H
#define NET_NET_H

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

/* Print the card, address, link and counters (the monitor's `net`). Context: kernel thread. */
void net_show(void);

#endif
