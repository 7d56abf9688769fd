/*
 * The ELF loader: a static, non-PIE x86_64 executable (what userland's
 * Makefile links) into a new address space, read through a callback so
 * that where the file lives (the cluster file system, the initrd) is the
 * caller's business. Nothing of the file is trusted before it is checked:
 * a garbage file, a truncated one or one whose headers point outside it or
 * outside the user half is refused with -ENOEXEC, never a fault.
 */
#include "kernel/kernel.h"
#include "mm/mm.h"
#include "mm/vm.h"
#include "arch/arch.h"
#include "sched/elf.h"

#define EI_CLASS      4
#define EI_DATA       5
#define EI_VERSION    6
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define EV_CURRENT    1
#define ET_EXEC       2
#define EM_X86_64     0x3E
#define PT_LOAD       1
#define PF_X          1
#define PF_W          2
#define USER_LOW      0x1000UL          /* page 0 stays unmapped */

/* Read exactly n bytes at off. Return: 0, -ENOEXEC (the file ends first), read's error. */
static int read_all(elf_read_fn read, void *ctx, uint64_t off, void *buf, uint64_t n)
{
	uint64_t done = 0;

	while (done < n) {
		int64_t r = read(ctx, off + done, (uint8_t *)buf + done, n - done);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -ENOEXEC;        /* shorter than it was when its size was taken */
		done += (uint64_t)r;
	}
	return 0;
}

static bool header_ok(const struct elf64_ehdr *eh, uint64_t size)
{
	return !memcmp(eh->ident, "\177ELF", 4) && eh->ident[EI_CLASS] == ELFCLASS64 &&
	       eh->ident[EI_DATA] == ELFDATA2LSB && eh->ident[EI_VERSION] == EV_CURRENT &&
	       eh->type == ET_EXEC && eh->machine == EM_X86_64 && eh->version == EV_CURRENT &&
	       eh->phentsize == sizeof(struct elf64_phdr) &&
	       eh->phnum >= 1 && eh->phnum <= ELF_PHNUM_MAX &&
	       eh->phoff <= size && eh->phnum * sizeof(struct elf64_phdr) <= size - eh->phoff;
}

/* A PT_LOAD segment that lies inside the file and the user half. */
static bool segment_ok(const struct elf64_phdr *ph, uint64_t size)
{
	return ph->filesz <= ph->memsz && ph->offset <= size && ph->filesz <= size - ph->offset &&
	       ph->vaddr >= USER_LOW && ph->vaddr < VM_MMAP_BASE &&
	       ph->memsz <= VM_MMAP_BASE - ph->vaddr;
}

/* Segment ph's bytes from the file into vm, through buf (ELF_CHUNK bytes). */
static int copy_segment(struct vm *vm, const struct elf64_phdr *ph, elf_read_fn read, void *ctx,
			uint8_t *buf)
{
	for (uint64_t done = 0; done < ph->filesz;) {
		uint64_t k = MIN((uint64_t)ELF_CHUNK, ph->filesz - done);
		int err = read_all(read, ctx, ph->offset + done, buf, k);
		if (!err)
			err = vm_copy_in(vm, ph->vaddr + done, buf, k);
		if (err)
			return err;
		done += k;
	}
	return 0;
}

int64_t elf_load(struct vm *vm, elf_read_fn read, void *ctx, uint64_t size, uint64_t *top)
{
	struct elf64_ehdr eh;
	struct elf64_phdr *phs = NULL;
	uint8_t *buf = NULL;
	bool entry_ok = false;
	int err;

	*top = 0;
	if (size < sizeof(eh))
		return -ENOEXEC;
	if ((err = read_all(read, ctx, 0, &eh, sizeof(eh))))
		return err;
	if (!header_ok(&eh, size))
		return -ENOEXEC;
	if (!(phs = kmalloc(eh.phnum * sizeof(*phs))) || !(buf = kmalloc(ELF_CHUNK))) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = read_all(read, ctx, eh.phoff, phs, eh.phnum * sizeof(*phs))))
		goto out;
	for (int i = 0; i < eh.phnum && !err; i++) {
		const struct elf64_phdr *ph = &phs[i];
		if (ph->type != PT_LOAD || !ph->memsz)
			continue;
		if (!segment_ok(ph, size)) {
			err = -ENOEXEC;
			break;
		}
		int prot = (ph->flags & PF_W ? ARCH_PROT_WRITE : 0) |
			   (ph->flags & PF_X ? ARCH_PROT_EXEC : 0);
		err = vm_add(vm, ph->vaddr, ph->memsz, prot, VM_PLACE_LOCAL, false);
		if (err == -EEXIST || err == -EINVAL)
			err = -ENOEXEC;         /* segments overlap, or too many of them */
		if (!err)
			err = copy_segment(vm, ph, read, ctx, buf);
		entry_ok |= (ph->flags & PF_X) && eh.entry >= ph->vaddr &&
			    eh.entry - ph->vaddr < ph->memsz;
		*top = MAX(*top, ph->vaddr + ph->memsz);
	}
	if (!err && (!*top || !entry_ok))
		err = -ENOEXEC;         /* nothing to run, or it would start outside its code */
out:
	kfree(buf);
	kfree(phs);
	return err ? err : (int64_t)eh.entry;
}
