/*
 * Region failure and optional memory, on one node.
 *
 * When a region of the pool fails (mm/xlate.h: the injector marks it
 * failed, wipes its frames and counts one more failure), every node finds
 * what its processes lost there and reacts:
 *
 *   vital memory (anything not allocated DM_OPTIONAL, and shared segments)
 *       the process is killed, as by SIGBUS (DM_SIGBUS), with the reason on
 *       the console and in its parent's wait status;
 *   optional memory (dm_alloc(..., DM_OPTIONAL))
 *       the lost pages are dropped (the next touch gets a fresh zeroed page)
 *       and the process takes an exception: on its way back to user mode it
 *       runs the handler it gave dm_on_loss(), with a struct dm_loss saying
 *       what was lost, then goes on where it was. Without a handler it just
 *       goes on. A second loss while the handler runs waits for it to end.
 *
 * When the node's own link to the pool goes down (the fabric sets link_down
 * in its node-table entry and raises an NMI), all of its processes' pool
 * memory is lost at once, handled the same way, and the node stops
 * touching the pool: no heartbeat (the others declare it dead and take
 * back what it held), no messages, no pool pages; it keeps running on its
 * local memory, where the lost optional pages come back from.
 *
 * The kernel stays up; nothing else is touched. Who does what:
 *   kernel_on_nmi()     an NMI: look at link_down at the next tick
 *   loss_tick()         timer tick: notices the pool's failure count move
 *   loss_work()         kernel thread: says which regions failed, kills the
 *                       processes that lost vital pages, flags the others,
 *                       drops the monitor's lost pages, counts all of it in
 *                       the region table (lost_optional, lost_vital, killed);
 *                       then hands the file system's page cache its lost
 *                       pages (dmosfs_region_lost), again on later passes
 *                       while others held some of them
 *   loss_user_return()  a flagged process, at a safe point of its own: drops
 *                       its lost optional pages and enters its handler
 */
#ifndef MM_LOSS_H
#define MM_LOSS_H

#include <stdint.h>
#include <stdbool.h>

/* A process's side of it (in struct proc). */
struct proc_loss {
	uint64_t entry;                 /* where it takes the exception (dm_on_loss), 0: none */
	bool check;                     /* look for lost optional pages before user mode */
	bool in_handler;                /* its handler runs: another exception waits */
	uint64_t addr, bytes;           /* lost, not yet reported to it: lowest address, bytes */
	uint32_t region;                /* region of the lowest lost address */
	uint64_t total;                 /* optional bytes lost since it started */
};

void loss_tick(void);
void loss_work(void);
void loss_user_return(void);

/* The system calls: SYS_dm_on_loss(entry), SYS_dm_loss_return(saved registers). */
int64_t loss_set_entry(uint64_t entry);
int64_t loss_return(uint64_t saved);

#endif
