/*
 * Optional memory lost: dm_on_loss() and the entry point the kernel sends
 * the exception to (mm/loss.h). The kernel enters __dm_loss_entry(info,
 * regs) on the program's own stack, 16-byte aligned, below what it was
 * doing, with its registers saved at regs. The entry keeps the x87/SSE
 * registers on that stack, calls the program's handler, puts them back and
 * asks the kernel to resume the program where it was (SYS_dm_loss_return).
 */
#include "dm.h"
#include "../libc/sys.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static void (*handler)(const struct dm_loss *);

void __dm_loss_call(const struct dm_loss *info);
void __dm_loss_entry(void);

void __dm_loss_call(const struct dm_loss *info)
{
	if (handler)
		handler(info);
}

__asm__(
	"	.text\n"
	"	.globl __dm_loss_entry\n"
	"	.type __dm_loss_entry, @function\n"
	"__dm_loss_entry:\n"
	"	mov %rsi, %r12\n"               /* the saved registers: r12 outlives the call */
	"	sub $512, %rsp\n"
	"	fxsave (%rsp)\n"
	"	call __dm_loss_call\n"          /* info is still in rdi */
	"	fxrstor (%rsp)\n"
	"	mov %r12, %rdi\n"
	"	mov $" STR(SYS_dm_loss_return) ", %eax\n"
	"	syscall\n"
	"	ud2\n"                          /* the kernel refused the registers */
	"	.size __dm_loss_entry, . - __dm_loss_entry\n");

int dm_on_loss(void (*fn)(const struct dm_loss *loss))
{
	handler = fn;
	return sys_ret(sys1(SYS_dm_on_loss, fn ? __dm_loss_entry : 0));
}
