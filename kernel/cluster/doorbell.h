/*
 * The doorbell: an interrupt one node raises on another through
 * ivshmem-doorbell (MSI-X), so a message is handled at once instead of at
 * the receiver's next timer tick. Without it (ivshmem-plain) nodes poll.
 */
#ifndef KERNEL_CLUSTER_DOORBELL_H
#define KERNEL_CLUSTER_DOORBELL_H

#include <stdint.h>

struct pci_dev;

/**
 * doorbell_init - set up MSI-X on the ivshmem device if it has it
 * Context: boot, after the pool is mapped.
 * Return: this node's ivshmem peer id (others ring it), or -1: no doorbell.
 */
int doorbell_init(struct pci_dev *d);

/* Interrupt the node whose ivshmem peer id is peer; nothing if peer < 0. */
void doorbell_ring(int32_t peer);

/* Doorbell interrupts this node has taken. */
extern volatile uint64_t doorbell_count;

#endif
