/*
 * Local frame allocator: the node's own DRAM, from the boot memory map,
 * managed by the buddy allocator (buddy.c). The buddy's bookkeeping lives
 * right after the kernel image; frames below 1 MiB are left to firmware.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "mm/buddy.h"
#include "kernel/bits.h"

#define LOW_RESERVED (1UL << 20)

static struct buddy buddy;
static uint64_t total_frames;

void frame_init(const struct boot_info *bi)
{
	uint64_t max_phys = 0;

	for (int i = 0; i < bi->nram; i++)
		max_phys = MAX(max_phys, bi->ram[i].base + bi->ram[i].len);
	uint64_t nframes = max_phys >> PAGE_SHIFT;
	uint64_t meta = round_up(bi->reserved_end, PAGE_SIZE);
	uint64_t meta_end = round_up(meta + buddy_meta_size(nframes), PAGE_SIZE);

	bool fits = false;
	for (int i = 0; i < bi->nram; i++)
		if (meta >= bi->ram[i].base && meta_end <= bi->ram[i].base + bi->ram[i].len)
			fits = true;
	if (!fits)
		panic("mm: no RAM right after the kernel for frame bookkeeping (%lu KiB)",
		      (meta_end - meta) >> 10);

	buddy_init(&buddy, 0, nframes, phys_to_virt(meta));
	uint64_t reserved = MAX(meta_end, LOW_RESERVED);
	for (int i = 0; i < bi->nram; i++) {
		uint64_t s = round_up(MAX(bi->ram[i].base, reserved), PAGE_SIZE);
		uint64_t e = (bi->ram[i].base + bi->ram[i].len) & ~(PAGE_SIZE - 1);
		if (e <= s)
			continue;
		buddy_add_range(&buddy, s >> PAGE_SHIFT, (e - s) >> PAGE_SHIFT);
		total_frames += (e - s) >> PAGE_SHIFT;
	}
	self.local_mem = total_frames << PAGE_SHIFT;
}

uint64_t frame_alloc(unsigned order)
{
	uint64_t pfn = buddy_alloc(&buddy, order);

	return pfn == BUDDY_NONE ? FRAME_NONE : pfn << PAGE_SHIFT;
}

int frame_free(uint64_t pa, unsigned order)
{
	if (pa & (PAGE_SIZE - 1))
		return -EINVAL;
	return buddy_free(&buddy, pa >> PAGE_SHIFT, order);
}

void frame_stats(struct frame_stats *st)
{
	st->total = total_frames;
	st->free = buddy_free_frames(&buddy);
}

void frame_report(void)
{
	uint64_t counts[BUDDY_MAX_ORDER + 1];
	char line[256];
	int n = 0;

	buddy_free_counts(&buddy, counts);
	for (int o = 0; o <= BUDDY_MAX_ORDER; o++)
		if (counts[o])
			n += snprintf(line + n, sizeof(line) - MIN((size_t)n, sizeof(line)),
				      " %d:%lu", o, counts[o]);
	uint64_t free = buddy_free_frames(&buddy);
	printk("mm: %lu KiB of %lu KiB local RAM free (%lu frames); free blocks by order:%s\n",
	       free << 2, total_frames << 2, free, line);
}

static void *heap_page_alloc(unsigned order)
{
	uint64_t pa = frame_alloc(order);

	return pa == FRAME_NONE ? NULL : phys_to_virt(pa);
}

static void heap_page_free(void *p, unsigned order)
{
	frame_free(virt_to_phys(p), order);
}

void kheap_setup(void)
{
	static const struct kheap_pages pages = { heap_page_alloc, heap_page_free };

	kheap_init(&pages);
}
