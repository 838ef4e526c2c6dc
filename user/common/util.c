// SPDX-License-Identifier: GPL-2.0
/* Small helpers with no espx state (util.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/util.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_parse(const char *s, uint8_t *out, size_t max)
{
	size_t len, i;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	len = strlen(s);
	if (len % 2)
		return -EINVAL;
	if (len / 2 > max)
		return -E2BIG;
	for (i = 0; i < len / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

void hex_format(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

__u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

const char *boot_time_str(__u64 ns, char *buf, size_t n)
{
	struct timespec now;
	__s64 offset;
	struct tm tm;
	time_t t;

	if (!ns) {
		snprintf(buf, n, "-");
		return buf;
	}
	/* shift by (wall - boot) in ns, so the same stamp always prints the
	 * same second */
	clock_gettime(CLOCK_REALTIME, &now);
	offset = (__s64)now.tv_sec * 1000000000LL + now.tv_nsec - (__s64)boot_ns();
	t = (time_t)(((__s64)ns + offset) / 1000000000LL);
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

int array_grow(void **v, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t c = *cap;
	void *nv;

	if (need <= c)
		return 0;
	while (c < need)
		c = c ? 2 * c : first;
	nv = realloc(*v, c * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

const char *addr_str(const __u32 a[4], __u8 family, char *buf, size_t n)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

const char *prefix_str(const __u32 a[4], __u8 family, __u8 plen, char *buf, size_t n)
{
	char s[INET6_ADDRSTRLEN];

	snprintf(buf, n, "%s/%u", addr_str(a, family, s, sizeof(s)), plen);
	return buf;
}
