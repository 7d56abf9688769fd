/*
 * The virtio-net driver's interface to the network stack (net/netif.c):
 * QEMU's transitional virtio-net (1af4:1000) through the legacy virtio-pci
 * transport, one receive and one transmit queue, no offloads. Frames are
 * plain Ethernet frames without FCS, 14 to VNET_FRAME_MAX bytes.
 *
 * Every call is made from the kernel thread (kernel/kthread.h), or for
 * transmitting from lwIP called by a socket system call (net/socket.c),
 * never both at once: the kernel is not preempted. The driver's interrupt
 * handlers touch no queue, they only kick the work given to vnet_init(),
 * which then calls vnet_rx() and vnet_reclaim(). So the queues need no
 * lock and no interrupts off.
 */
#ifndef NET_VIRTIO_NET_H
#define NET_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

struct kwork;

#define VNET_FRAME_MAX  1514    /* destination, source, type and 1500 bytes: MTU 1500 */
#define VNET_FRAME_MIN  14      /* an Ethernet header and nothing else */

/* What the driver counted since boot. */
struct vnet_stats {
	uint64_t rx_frames, rx_bytes;   /* handed up */
	uint64_t tx_frames, tx_bytes;   /* given to the device */
	uint64_t rx_runt;               /* dropped: shorter than an Ethernet header */
	uint64_t rx_oversize;           /* dropped: longer than VNET_FRAME_MAX */
	uint64_t rx_badid;              /* the device completed a buffer it was not given */
	uint64_t rx_refused;            /* dropped: the stack had no room for it */
	uint64_t tx_full;               /* not sent: every transmit buffer in flight */
	uint64_t tx_oversize;           /* not sent: longer than VNET_FRAME_MAX */
};

/**
 * vnet_init - find the virtio-net device, bring it up, fill its receive ring
 * @work: the work its interrupts kick (it calls vnet_rx and vnet_reclaim)
 * Context: boot. Return: 0; -ENODEV when there is no device or it cannot be
 * driven, -ENOMEM; on error the device is stopped.
 */
int vnet_init(struct kwork *work);

/* Was vnet_init() successful? Context: any. */
bool vnet_present(void);

/* The card's MAC address (6 bytes). Context: after vnet_init. */
const uint8_t *vnet_mac(void);

/* Does the device say its link is up? (a register read) Context: kernel thread. */
bool vnet_link_up(void);

/**
 * vnet_rx - hand up the frames the device received, refill the ring
 * @deliver: called with each good frame; it copies what it keeps and
 *           returns false when it has no room (the frame counts as refused)
 * @budget: frames at most, so that one call stays short
 * Context: kernel thread. Return: the frames looked at (good or dropped).
 */
unsigned vnet_rx(bool (*deliver)(const void *frame, unsigned len), unsigned budget);

/**
 * vnet_tx_buf - a transmit buffer of VNET_FRAME_MAX bytes to build a frame in
 * Context: kernel thread or a system call (lwIP's output). Return: it, or
 * NULL when all are in flight (counted in tx_full). The next vnet_tx_send()
 * sends it.
 */
void *vnet_tx_buf(void);

/**
 * vnet_tx_send - send the frame of len bytes built in vnet_tx_buf()'s buffer
 * Context: as vnet_tx_buf, right after it gave a buffer.
 * Return: 0, or -EINVAL when len is not a frame's length (not sent).
 */
int vnet_tx_send(unsigned len);

/* Take the transmit buffers the device is done with back. Context: kernel thread. */
void vnet_reclaim(void);

/* A copy of the counters. Context: any. */
void vnet_get_stats(struct vnet_stats *st);

#endif
