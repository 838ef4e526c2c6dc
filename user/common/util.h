/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers with no espx state: hex parsing and formatting, wiping
 * key material, growing arrays, addresses as text, CLOCK_BOOTTIME stamps. */
#ifndef ESPX_UTIL_H
#define ESPX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parse hex ("0x" prefix optional, even length) into out. Returns the number
 * of bytes, or -EINVAL (bad digit / odd length) or -E2BIG (longer than max). */
int hex_parse(const char *s, uint8_t *out, size_t max);
/* Write n bytes as lowercase hex into out (2n+1 bytes). */
void hex_format(const uint8_t *in, size_t n, char *out);
/* Zero memory holding key material in a way the compiler cannot elide. */
void wipe(void *p, size_t n);

/* Room for `need` elements of `size` bytes in the growing array *v of
 * capacity *cap, which doubles from `first`. 0, or -ENOMEM with the
 * array as it was. */
int array_grow(void **v, size_t *cap, size_t need, size_t size, size_t first);

/* An address (family AF_INET or AF_INET6; network order) as text; "?" if
 * it cannot be written. Returns buf. */
const char *addr_str(const __u32 a[4], __u8 family, char *buf, size_t n);
/* "ADDR/PLEN". Returns buf. */
const char *prefix_str(const __u32 a[4], __u8 family, __u8 plen, char *buf, size_t n);

/* CLOCK_BOOTTIME now, in ns (the clock the datapath stamps with). */
__u64 boot_ns(void);
/* A CLOCK_BOOTTIME stamp as local wall-clock time; "-" for 0. */
const char *boot_time_str(__u64 ns, char *buf, size_t n);

#endif
