/*
 * What code that lives on pool memory needs from its surroundings. The
 * kernel provides these (kernel/cluster/pool.c, through arch_*); host unit tests
 * provide their own (tests/unit/poolsys_host.c), so the same pool code runs
 * in both places unchanged.
 *
 * Rules for pool-resident structures: store pool addresses or indices,
 * never pointers; publish with a release store of the header word last;
 * pool_flush() every line other nodes must see (real CXL shared between
 * hosts is not coherent; the emulation is, so flush is cheap here).
 */
#ifndef KERNEL_CLUSTER_POOLSYS_H
#define KERNEL_CLUSTER_POOLSYS_H

#include <stddef.h>
#include <stdint.h>

void pool_flush(const volatile void *p, size_t n);
uint64_t pool_now_ns(void);
void pool_relax(void);          /* spin-wait hint */

#endif
