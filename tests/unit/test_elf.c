/*
 * Host unit tests of the ELF loader (sched/elf.c): a good program's
 * segments become areas with its bytes in them (also a segment bigger
 * than the loader's buffer, and a read callback that returns a few bytes
 * at a time), and every kind of bad file is refused with ENOEXEC before
 * any area is made from what it says: text, an empty or short file, the
 * wrong class, byte order, type or machine, program headers out of the
 * file, segments out of the file or of the user half (also by wrapping
 * around), filesz over memsz, overlapping segments, an entry point outside
 * the code, and a file that shrinks under the loader. The read callback's
 * errors and -ENOMEM come back as they are.
 *
 * The address space is a stub: vm_add records areas (and refuses overlaps
 * as mm/vm.c does), vm_copy_in writes into a flat buffer standing for the
 * user half from BASE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kernel.h"
#include "mm/mm.h"
#include "mm/vm.h"
#include "sched/elf.h"

#define BASE   0x400000UL
#define SPAN   (1UL << 20)      /* what the stub address space holds from BASE */
#define ENTRY  (BASE + 0x40)
#define DATA_VA (BASE + 0x20000)
#define BIG    (3 * ELF_CHUNK + 123)    /* the data segment's file bytes: several reads */

/* ---- stubs ----------------------------------------------------------------------- */

static struct { uint64_t start, end; int prot; } areas[8];
static int nareas, add_error, kmalloc_fails_after = -1;
static uint8_t *mem;

void *kmalloc(size_t n)
{
	if (kmalloc_fails_after == 0)
		return NULL;
	if (kmalloc_fails_after > 0)
		kmalloc_fails_after--;
	return malloc(n);
}

void kfree(void *p) { free(p); }

int vm_add(struct vm *vm, uint64_t start, uint64_t len, int prot, enum vm_place place,
	   bool optional)
{
	uint64_t end = (start + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	(void)vm;
	assert_int_equal(place, VM_PLACE_LOCAL);
	assert_false(optional);
	start &= ~(PAGE_SIZE - 1);
	if (add_error)
		return add_error;
	assert_true(start >= BASE && end <= BASE + SPAN);     /* the loader checked */
	for (int i = 0; i < nareas; i++)
		if (start < areas[i].end && end > areas[i].start)
			return -EEXIST;
	assert_true(nareas < (int)ARRAY_SIZE(areas));
	areas[nareas].start = start;
	areas[nareas].end = end;
	areas[nareas++].prot = prot;
	return 0;
}

int vm_copy_in(struct vm *vm, uint64_t va, const void *src, size_t n)
{
	bool inside = false;

	(void)vm;
	for (int i = 0; i < nareas; i++)
		inside |= va >= areas[i].start && va + n <= areas[i].end;
	assert_true(inside);
	memcpy(mem + (va - BASE), src, n);
	return 0;
}

/* ---- the file ----------------------------------------------------------------------- */

struct file {
	uint8_t *data;
	uint64_t len;
	uint64_t most;          /* bytes a read returns at most (0: all asked for) */
	int64_t error;          /* reads fail with this when nonzero */
	uint64_t shrink_to;     /* reads see the file this long when nonzero */
};

static int64_t file_read(void *ctx, uint64_t off, void *buf, uint64_t n)
{
	struct file *f = ctx;
	uint64_t len = f->shrink_to ? f->shrink_to : f->len;

	if (f->error)
		return f->error;
	if (off >= len)
		return 0;
	n = MIN(n, len - off);
	if (f->most)
		n = MIN(n, f->most);
	memcpy(buf, f->data + off, n);
	return (int64_t)n;
}

#define TEXT_OFF 0x1000UL
#define TEXT_LEN 0x300UL
#define DATA_OFF 0x2000UL

/* A program as userland's Makefile links one: text (r-x) and data (rw-, with bss). */
static struct file *program(void)
{
	struct file *f = calloc(1, sizeof(*f));
	struct elf64_ehdr *eh;
	struct elf64_phdr *ph;

	f->len = DATA_OFF + BIG;
	f->data = calloc(1, f->len);
	eh = (struct elf64_ehdr *)f->data;
	memcpy(eh->ident, "\177ELF\2\1\1", 7);
	eh->type = 2;
	eh->machine = 0x3E;
	eh->version = 1;
	eh->entry = ENTRY;
	eh->phoff = sizeof(*eh);
	eh->ehsize = sizeof(*eh);
	eh->phentsize = sizeof(*ph);
	eh->phnum = 3;
	ph = (struct elf64_phdr *)(f->data + eh->phoff);
	ph[0] = (struct elf64_phdr){ .type = 1, .flags = 5, .offset = TEXT_OFF, .vaddr = BASE,
			       .filesz = TEXT_LEN, .memsz = TEXT_LEN, .align = PAGE_SIZE };
	ph[1] = (struct elf64_phdr){ .type = 1, .flags = 6, .offset = DATA_OFF, .vaddr = DATA_VA,
			       .filesz = BIG, .memsz = BIG + 5000, .align = PAGE_SIZE };
	ph[2] = (struct elf64_phdr){ .type = 0x6474e551 };    /* PT_GNU_STACK: not loaded */
	for (uint64_t i = 0; i < TEXT_LEN; i++)
		f->data[TEXT_OFF + i] = (uint8_t)(0x90 + i);
	for (uint64_t i = 0; i < BIG; i++)
		f->data[DATA_OFF + i] = (uint8_t)(i * 7 + 3);
	return f;
}

static struct elf64_ehdr *EH(struct file *f) { return (struct elf64_ehdr *)f->data; }
static struct elf64_phdr *PH(struct file *f, int i) { return (struct elf64_phdr *)(f->data + sizeof(struct elf64_ehdr)) + i; }

static int64_t load(struct file *f, uint64_t *top)
{
	struct vm vm;
	uint64_t t;

	return elf_load(&vm, file_read, f, f->len, top ? top : &t);
}

static void drop(struct file *f)
{
	free(f->data);
	free(f);
}

static int setup(void **state)
{
	(void)state;
	nareas = 0;
	add_error = 0;
	kmalloc_fails_after = -1;
	mem = calloc(1, SPAN);
	return mem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static void check_loaded(struct file *f)
{
	assert_int_equal(nareas, 2);
	assert_int_equal(areas[0].start, BASE);
	assert_int_equal(areas[0].end, BASE + PAGE_SIZE);
	assert_int_equal(areas[0].prot, ARCH_PROT_EXEC);
	assert_int_equal(areas[1].start, DATA_VA);
	assert_int_equal(areas[1].end, (DATA_VA + BIG + 5000 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
	assert_int_equal(areas[1].prot, ARCH_PROT_WRITE);
	assert_memory_equal(mem, f->data + TEXT_OFF, TEXT_LEN);
	assert_memory_equal(mem + (DATA_VA - BASE), f->data + DATA_OFF, BIG);
}

static void test_program_loads(void **state)
{
	struct file *f = program();
	uint64_t top = 0;

	(void)state;
	assert_int_equal(load(f, &top), ENTRY);
	assert_int_equal(top, DATA_VA + BIG + 5000);
	check_loaded(f);
	drop(f);
}

static void test_short_reads_still_load(void **state)
{
	struct file *f = program();

	(void)state;
	f->most = 1000;         /* a file system that hands out a little at a time */
	assert_int_equal(load(f, NULL), ENTRY);
	check_loaded(f);
	drop(f);
}

static void test_garbage_is_enoexec(void **state)
{
	static const char text[] = "#!/bin/sh\necho this is no program for dmos, "
				   "but it is long enough to hold an ELF header\n";
	struct file f = { (uint8_t *)text, sizeof(text) - 1, 0, 0, 0 };
	uint8_t zeros[4096] = { 0 };
	struct file z = { zeros, sizeof(zeros), 0, 0, 0 };
	struct file empty = { zeros, 0, 0, 0, 0 };
	struct file tiny = { (uint8_t *)"\177ELF", 4, 0, 0, 0 };

	(void)state;
	assert_true(sizeof(text) > sizeof(struct elf64_ehdr));
	assert_int_equal(load(&f, NULL), -ENOEXEC);
	assert_int_equal(load(&z, NULL), -ENOEXEC);
	assert_int_equal(load(&empty, NULL), -ENOEXEC);
	assert_int_equal(load(&tiny, NULL), -ENOEXEC);
	assert_int_equal(nareas, 0);
}

/* Each change to the header alone makes the program unloadable, with no area made. */
static void test_bad_headers_are_enoexec(void **state)
{
	struct file *f = program();
	struct elf64_ehdr good = *EH(f);
	static const struct { const char *what; size_t at; uint64_t value; int size; } bad[] = {
		{ "magic", offsetof(struct elf64_ehdr, ident) + 1, 'e', 1 },
		{ "32-bit class", offsetof(struct elf64_ehdr, ident) + 4, 1, 1 },
		{ "big endian", offsetof(struct elf64_ehdr, ident) + 5, 2, 1 },
		{ "ident version", offsetof(struct elf64_ehdr, ident) + 6, 0, 1 },
		{ "shared object", offsetof(struct elf64_ehdr, type), 3, 2 },
		{ "aarch64", offsetof(struct elf64_ehdr, machine), 0xB7, 2 },
		{ "version", offsetof(struct elf64_ehdr, version), 2, 4 },
		{ "phentsize", offsetof(struct elf64_ehdr, phentsize), 32, 2 },
		{ "no phdrs", offsetof(struct elf64_ehdr, phnum), 0, 2 },
		{ "too many phdrs", offsetof(struct elf64_ehdr, phnum), ELF_PHNUM_MAX + 1, 2 },
		{ "phdrs past the end", offsetof(struct elf64_ehdr, phoff), DATA_OFF + BIG - 100, 8 },
		{ "phoff wraps", offsetof(struct elf64_ehdr, phoff), UINT64_MAX - 10, 8 },
		{ "entry in data", offsetof(struct elf64_ehdr, entry), DATA_VA + 8, 8 },
		{ "entry past text", offsetof(struct elf64_ehdr, entry), BASE + TEXT_LEN, 8 },
		{ "entry 0", offsetof(struct elf64_ehdr, entry), 0, 8 },
	};

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		*EH(f) = good;
		memcpy(f->data + bad[i].at, &bad[i].value, bad[i].size);
		nareas = 0;
		int64_t r = load(f, NULL);
		if (r != -ENOEXEC)
			fail_msg("%s: loaded with %ld, want -ENOEXEC", bad[i].what, (long)r);
		if (strncmp(bad[i].what, "entry", 5))   /* entries are checked after the segments */
			assert_int_equal(nareas, 0);
	}
	drop(f);
}

static void test_bad_segments_are_enoexec(void **state)
{
	struct file *f = program();
	struct elf64_phdr good = *PH(f, 1);
	static const struct { const char *what; size_t at; uint64_t value; } bad[] = {
		{ "offset past the end", offsetof(struct elf64_phdr, offset), DATA_OFF + BIG + 1 },
		{ "bytes past the end", offsetof(struct elf64_phdr, filesz), BIG + 1 },
		{ "offset wraps", offsetof(struct elf64_phdr, offset), UINT64_MAX - 100 },
		{ "filesz over memsz", offsetof(struct elf64_phdr, memsz), BIG - 1 },
		{ "in page 0", offsetof(struct elf64_phdr, vaddr), 0x800 },
		{ "kernel half", offsetof(struct elf64_phdr, vaddr), 0xffffffff80000000UL },
		{ "at the mmap base", offsetof(struct elf64_phdr, vaddr), VM_MMAP_BASE },
		{ "overlaps text", offsetof(struct elf64_phdr, vaddr), BASE + 0x100 },
	};

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		*PH(f, 1) = good;
		memcpy((uint8_t *)PH(f, 1) + bad[i].at, &bad[i].value, 8);
		nareas = 0;
		int64_t r = load(f, NULL);
		if (r != -ENOEXEC)
			fail_msg("%s: loaded with %ld, want -ENOEXEC", bad[i].what, (long)r);
	}
	/* vaddr + memsz wraps around to a small number */
	*PH(f, 1) = good;
	PH(f, 1)->memsz = UINT64_MAX - DATA_VA + 0x2000;
	nareas = 0;
	assert_int_equal(load(f, NULL), -ENOEXEC);
	assert_int_equal(nareas, 1);    /* the text only */
	drop(f);
}

static void test_nothing_to_load_is_enoexec(void **state)
{
	struct file *f = program();

	(void)state;
	PH(f, 0)->type = PH(f, 1)->type = 4;    /* PT_NOTE */
	assert_int_equal(load(f, NULL), -ENOEXEC);
	assert_int_equal(nareas, 0);
	drop(f);
}

static void test_read_errors_come_back(void **state)
{
	struct file *f = program();

	(void)state;
	f->error = -EIO;
	assert_int_equal(load(f, NULL), -EIO);
	f->error = 0;
	f->shrink_to = DATA_OFF + 100;  /* truncated after its size was taken */
	assert_int_equal(load(f, NULL), -ENOEXEC);
	f->shrink_to = 0;
	nareas = 0;
	add_error = -ENOMEM;
	assert_int_equal(load(f, NULL), -ENOMEM);
	add_error = 0;
	kmalloc_fails_after = 1;        /* the headers get memory, the buffer does not */
	assert_int_equal(load(f, NULL), -ENOMEM);
	kmalloc_fails_after = -1;
	assert_int_equal(load(f, NULL), ENTRY);         /* nothing was left behind */
	drop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_program_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_reads_still_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_enoexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers_are_enoexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_segments_are_enoexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_load_is_enoexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors_come_back, setup, teardown),
	};

	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
