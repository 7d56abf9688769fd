/*
 * The ELF loader (sched/elf.c): a program file into a new address space,
 * for proc_spawn. Private to sched/ (and its host unit test).
 */
#ifndef SCHED_ELF_H
#define SCHED_ELF_H

#include <stdint.h>

struct vm;

/* The ELF64 file header and program header, as the file holds them. */
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64 && sizeof(struct elf64_phdr) == 56,
	       "the ELF64 layouts");

/* Read n bytes at off of the file into buf (kernel memory). Return: bytes
 * read (fewer only at its end), or a negative errno. */
typedef int64_t (*elf_read_fn)(void *ctx, uint64_t off, void *buf, uint64_t n);

#define ELF_PHNUM_MAX 64                /* program headers a program may have */
#define ELF_CHUNK     (16 << 10)        /* bytes read at a time into a kernel buffer */

/**
 * elf_load - load a static, non-PIE x86_64 ELF64 executable into vm
 * @read: reads the file; @ctx is passed to it
 * @size: the file's size in bytes
 * @top: set to the end of the highest segment (where the heap may start)
 *
 * Every field of the headers is checked against the file's size and the
 * user address space before it is trusted. Each PT_LOAD segment becomes an
 * area of vm (local memory, writable or executable as its flags say) and
 * its bytes are read in ELF_CHUNK pieces into a kmalloc'd buffer, then
 * copied in; the rest of the segment (memsz past filesz) reads as zeros.
 * On failure vm may hold some of the areas: the caller destroys it.
 *
 * Context: a process's system call or the kernel thread; may sleep in @read.
 * Return: the entry point; -ENOEXEC (not such a program: a bad magic,
 * class, byte order, type, machine or version, program headers out of the
 * file, a segment out of the file or of the user half, overlapping
 * segments, no segment, an entry point outside the executable ones, or a
 * file shorter than its headers say), -ENOMEM, or @read's error.
 */
int64_t elf_load(struct vm *vm, elf_read_fn read, void *ctx, uint64_t size, uint64_t *top);

#endif
