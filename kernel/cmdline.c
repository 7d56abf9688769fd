/*
 * The boot command line: space-separated `key=value` words. GRUB's line
 * comes first and the launcher's fw_cfg line after it, so for a key given
 * twice the launcher's word wins.
 */
#include "kernel/kernel.h"

static char line[512];

void cmdline_init(const char *s)
{
	strlcpy(line, s, sizeof(line));
}

/**
 * cmdline_get - the value of the last `key=value` word
 * Return: true and the value (truncated to n-1 bytes) in val, or false.
 */
bool cmdline_get(const char *key, char *val, size_t n)
{
	size_t klen = strlen(key);
	bool found = false;

	for (const char *p = line; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > klen && !strncmp(w, key, klen) && w[klen] == '=') {
			size_t vlen = (size_t)(p - w) - klen - 1;
			if (vlen > n - 1)
				vlen = n - 1;
			memcpy(val, w + klen + 1, vlen);
			val[vlen] = 0;
			found = true;
		}
	}
	return found;
}

/**
 * cmdline_long - a decimal value from the command line
 * Return: its value, or dflt when absent; -1 when present but not a number.
 */
long cmdline_long(const char *key, long dflt)
{
	char v[24];
	long r = 0;

	if (!cmdline_get(key, v, sizeof(v)))
		return dflt;
	if (!v[0])
		return -1;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || r > 100000000)
			return -1;
		r = r * 10 + (*p - '0');
	}
	return r;
}
