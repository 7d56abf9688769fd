/*
 * User address spaces: a list of areas (code, data, heap, stack, memory
 * from dm_alloc) over the arch page tables. Pages are filled in when first
 * touched. Each page of an area records where it lives:
 *
 *   local  a frame of this node's DRAM (slot = physical address | VM_LOCAL)
 *   pool   a pool page (slot = ppn << 12 | VM_POOL), mapped through
 *          translation, so a drain can move it (the shootdown unmaps it here
 *          and the next touch maps the new frame)
 *
 * The slots sit in a table that grows as pages are touched (mm/slots.h):
 * an area costs table pages only where it was filled in, so the heap can
 * reserve 512 MiB of address space for a few KiB. A shared segment's area
 * has no table: its pages are its own, consecutive from first_ppn; a fault
 * there maps the whole 2 MiB around it, with one large page where the
 * segment's pages and their frames allow (see vm_seg_maps).
 *
 * Placement: VM_PLACE_LOCAL and VM_PLACE_POOL are targeted; VM_PLACE_ANY is
 * transparent: local while the node has frames to spare, pool after.
 */
#ifndef MM_VM_H
#define MM_VM_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "mm/slots.h"

#define VM_MAX_AREAS 32
#define VM_MMAP_BASE 0x0000100000000000UL    /* dm_alloc areas start here */
#define VM_LOCAL 1UL
#define VM_POOL  2UL

enum vm_place { VM_PLACE_LOCAL = 1, VM_PLACE_POOL = 2, VM_PLACE_ANY = 3 };

struct vm_area {
	uint64_t start, end;            /* page aligned; end exclusive */
	int prot;                       /* ARCH_PROT_* */
	enum vm_place place;
	bool optional;                  /* not vital: losing it is survivable */
	struct slots slots;             /* one per page, see above; capacity: areas can grow (the heap) */
	int seg;                        /* shared segment slot, or -1 */
	uint64_t first_ppn;             /* a shared segment's first pool page */
};

struct vm {
	uint64_t *root;                 /* arch page tables */
	struct vm_area area[VM_MAX_AREAS];
	int nareas;
	uint64_t brk_start, brk;        /* the heap area grows from brk_start */
	uint64_t local_pages, pool_pages;       /* pages now filled in, by place */
	uint32_t pid;                   /* its process: the owner recorded on its pool pages */
};

int vm_init(struct vm *vm);
void vm_destroy(struct vm *vm);
int vm_add(struct vm *vm, uint64_t start, uint64_t len, int prot, enum vm_place place,
	   bool optional);
int vm_remove(struct vm *vm, uint64_t start, uint64_t len);

/* Map shared segment `seg`'s pages [first_ppn, +npages) at start. */
int vm_add_shared(struct vm *vm, uint64_t start, uint64_t first_ppn, uint64_t npages, int seg);
struct vm_area *vm_find(struct vm *vm, uint64_t addr);

/*
 * Fill in the page at addr now (page fault, or loading). Return: 0; -EFAULT
 * (no area there, or a write to a read-only one); -ENOMEM (no page, or no
 * page for its tables); another -errno if its pool page cannot be mapped.
 */
int vm_fault(struct vm *vm, uint64_t addr, bool write);

/* Grow or shrink the heap by incr bytes. Return: the old break or -errno. */
int64_t vm_sbrk(struct vm *vm, int64_t incr);

/* Is [addr, addr+len) user memory with this protection? (-EFAULT if not) */
int vm_check(struct vm *vm, uint64_t addr, uint64_t len, bool write);

/*
 * Checked copies: the pages they need are filled in first, so a copy never
 * faults for want of memory. Return: 0, -EFAULT (not user memory, or not
 * writable), -ENOMEM (no page could be had for it).
 */
int copy_from_user(struct vm *vm, void *dst, uint64_t src, size_t n);
int copy_to_user(struct vm *vm, uint64_t dst, const void *src, size_t n);
/* Copy a NUL-terminated string; Return: its length, -EFAULT, -ENOMEM, -ENAMETOOLONG. */
int strncpy_from_user(struct vm *vm, char *dst, uint64_t src, size_t max);

/* Where does addr live: VM_LOCAL, VM_POOL, or -EFAULT. */
int vm_where(struct vm *vm, uint64_t addr);

/* Copy into vm, which need not be the current address space. */
int vm_copy_in(struct vm *vm, uint64_t va, const void *src, size_t n);

/*
 * Pages of vm that a region failure took: pool pages whose frames sit in a
 * region that failed as failure after + 1 .. upto (xlate_lost). found() is called
 * for each (optional: its area was marked DM_OPTIONAL; a shared segment's
 * pages are vital). With drop, lost optional pages are released: the next
 * touch fills in a new, zeroed page. Vital pages are left as they are.
 */
typedef void (*vm_lost_fn)(void *ctx, uint64_t va, uint32_t region, bool optional);
void vm_lost(struct vm *vm, uint64_t after, uint64_t upto, bool drop, vm_lost_fn found,
	     void *ctx);
#define VM_LOST_LINK UINT64_MAX         /* vm_lost's after: the node lost the pool, every
					   pool page is gone (region DM_LOSS_LINK) */

/*
 * Mappings this node made for shared segments since boot: 2 MiB pages
 * (a whole aligned 2 MiB of a segment, backed by one run of frames) and
 * 4 KiB ones (the rest, and what a move at 4 KiB granularity broke up).
 * A fault in a segment maps the 2 MiB around it either way.
 */
struct vm_seg_maps {
	uint64_t large, small;
};
void vm_seg_maps(struct vm_seg_maps *m);

/* Drop mappings of pool pages [ppn, ppn+pages) (a shootdown). */
void vm_shootdown(struct vm *vm, uint64_t ppn, uint64_t pages);

#endif
