/*
 * Arithmetic helpers with no dependencies, for the kernel and for the
 * pool-resident code the host unit tests build as well (which cannot
 * include kernel/kernel.h).
 */
#ifndef KERNEL_BITS_H
#define KERNEL_BITS_H

#include <stdint.h>

/* @x rounded up to a multiple of @a (any @a > 0, not only powers of two). */
static inline uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

#endif
