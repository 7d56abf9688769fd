/*
 * The kernel reports errors with Linux's errno numbers (kernel/errno.h);
 * newlib numbers them its own way from 35 up (ENOSYS is 38 in one and 88
 * in the other). This table maps the kernel's to newlib's.
 */
#include <errno.h>
#include "sys.h"

static const struct { short kernel, libc; } map[] = {
	{ 35, EDEADLK },        { 36, ENAMETOOLONG },   { 37, ENOLCK },
	{ 38, ENOSYS },         { 39, ENOTEMPTY },      { 40, ELOOP },
	{ 75, EOVERFLOW },      { 84, EILSEQ },         { 88, ENOTSOCK },
	{ 89, EDESTADDRREQ },   { 90, EMSGSIZE },       { 91, EPROTOTYPE },
	{ 92, ENOPROTOOPT },    { 93, EPROTONOSUPPORT },{ 95, EOPNOTSUPP },
	{ 97, EAFNOSUPPORT },   { 98, EADDRINUSE },     { 99, EADDRNOTAVAIL },
	{ 100, ENETDOWN },      { 101, ENETUNREACH },   { 103, ECONNABORTED },
	{ 104, ECONNRESET },    { 105, ENOBUFS },       { 106, EISCONN },
	{ 107, ENOTCONN },      { 110, ETIMEDOUT },     { 111, ECONNREFUSED },
	{ 112, EHOSTDOWN },     { 113, EHOSTUNREACH },  { 114, EALREADY },
	{ 115, EINPROGRESS },   { 125, ECANCELED },
};

int __dm_errno(long kerr)
{
	if (kerr <= 34)                 /* EPERM .. ERANGE: the same everywhere */
		return (int)kerr;
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].kernel == kerr)
			return map[i].libc;
	return (int)kerr;               /* unknown: keep the number, for debugging */
}
