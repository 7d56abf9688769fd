/*
 * Virtual address layout of a dmos node. Shared by the assembly entry, the
 * linker script and C, so it holds only plain constants.
 *
 *   0x0000000000000000 .. USER_TOP               user space (one per process)
 *   PHYS_BASE   0xffff800000000000              direct map of all local RAM
 *   POOL_BASE   0xffffc00000000000              the pool device window (ivshmem BAR2)
 *   POOLMEM_BASE 0xffffd00000000000             pool memory by pool address (translated)
 *   MMIO_BASE   0xffffe00000000000              device registers (uncached)
 *   KERNEL_BASE 0xffffffff80000000              kernel image (phys 0 + this)
 */
#ifndef ARCH_X86_64_LAYOUT_H
#define ARCH_X86_64_LAYOUT_H

#define KERNEL_BASE  0xffffffff80000000
#define USER_TOP     0x0000800000000000
#define PHYS_BASE    0xffff800000000000
#define POOL_BASE    0xffffc00000000000
#define POOLMEM_BASE 0xffffd00000000000
#define MMIO_BASE    0xffffe00000000000
#define KSTACK_SIZE  16384

#endif
