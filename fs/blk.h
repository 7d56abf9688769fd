/*
 * Block devices: the shared disk. Every node of a cluster opens the same
 * disk image (`dmos up --disk SIZE`), as servers open one LUN on a SAN, and
 * sees it as a virtio-blk device (fs/virtio_blk.c). Nothing here knows
 * that others write to it too: keeping their views consistent is the file
 * system's business; a write is on the disk, for every node to read, once
 * blk_write returns (and durable once blk_flush returns).
 *
 * Sectors are BLK_SECTOR bytes; a request covers whole sectors. Requests
 * sleep until the device's interrupt completes them, several may be in
 * flight (from one call or many), and none waits longer than
 * BLK_TIMEOUT_MS: a request the device has not completed by then fails
 * with -ETIMEDOUT, and the device is reset (so it writes into no buffer
 * any more) and stays offline, every other call failing with -EIO.
 *
 * Memory a request may use:
 *   blk_read/blk_write: a kernel pointer to local RAM: kmalloc, frames
 *     (phys_to_virt(frame_alloc())), kernel stacks, the kernel's static
 *     data; any alignment. Not user addresses, not the pool windows
 *     (pmem_page()): the driver finds bus addresses with
 *     virt_to_phys(), which knows local RAM only.
 *   blk_io: bus addresses, for memory outside the direct map: a pool page
 *     is at pmem_frame_pa() of its device frame (the page cache
 *     will fill pool pages straight from the disk). The memory must stay
 *     put until blk_io returns (no block move under it).
 *
 * Context (every call but blk_init and the getters): a process or the
 * kernel thread, interrupts on or off, never an interrupt handler (they
 * sleep).
 */
#ifndef FS_BLK_H
#define FS_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR       (1U << BLK_SECTOR_SHIFT)

struct blk_dev;

enum blk_op { BLK_READ, BLK_WRITE };

/* A piece of a request's data by bus address. */
struct blk_seg {
	uint64_t pa;
	uint32_t len;
};

struct blk_stats {
	uint64_t reads, writes, flushes;        /* requests completed */
	uint64_t sectors_read, sectors_written;
	uint64_t errors;                        /* requests that failed */
};

/* Find and set up the disk; says one line when there is one. Context: boot, after pci_init. */
void blk_init(void);

/* The shared disk, or NULL when this node has none. Context: any. */
struct blk_dev *blk_disk(void);

uint64_t blk_sectors(const struct blk_dev *d);  /* capacity */
unsigned blk_max_segs(const struct blk_dev *d); /* segments one blk_io takes */
bool blk_read_only(const struct blk_dev *d);
bool blk_offline(const struct blk_dev *d);      /* reset after a timeout */
void blk_get_stats(const struct blk_dev *d, struct blk_stats *st);

/**
 * blk_read - read count sectors from sector on into buf (local RAM)
 * Return: 0; -EINVAL when [sector, sector + count) is not on the disk,
 * -EIO when the device failed a request or is offline, -ETIMEDOUT when it
 * did not complete one in time. On error buf holds some of the data.
 */
int blk_read(struct blk_dev *d, uint64_t sector, uint64_t count, void *buf);

/**
 * blk_write - write count sectors from buf (local RAM) to sector on
 * Return: 0; the errors of blk_read, and -EROFS when the disk is read-only.
 */
int blk_write(struct blk_dev *d, uint64_t sector, uint64_t count, const void *buf);

/**
 * blk_io - one request over bus-addressed memory
 * @seg: nseg segments, 1 to blk_max_segs(), together whole sectors
 * Return: as blk_read/blk_write; -EINVAL for bad segments too.
 */
int blk_io(struct blk_dev *d, enum blk_op op, uint64_t sector, const struct blk_seg *seg,
	   unsigned nseg);

/**
 * blk_flush - make every completed write durable (the device's write cache)
 * Return: 0 (at once when the device has no write cache), -EIO, -ETIMEDOUT.
 */
int blk_flush(struct blk_dev *d);

/* The monitor's `blk` command (fs/blkcmd.c): argc words, argv[0] "blk".
 * Context: the monitor (kernel/monitor.c's command table). */
void cmd_blk(char **argv, int argc);

#endif
