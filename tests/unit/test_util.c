// SPDX-License-Identifier: GPL-2.0
/* Helpers in user/common/util.h and the drop reason names of include/espx_drop.h.
 * hex_parse reads key material from the command line: it must take an
 * optional "0x", either case, refuse odd lengths and non-hex characters
 * (-EINVAL) and input longer than the buffer (-E2BIG) without writing past
 * it. hex_format must be its inverse. Every drop reason needs a distinct
 * name, since `espx stats` shows the counters by name. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>

#include "espx_drop.h"
#include "common/util.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok)
		printf("PASS %s\n", name);
	else
		printf("FAIL %s: %s\n", name, why);
	failed |= !ok;
}

/* hex_parse(s) into a 4-byte buffer followed by a guard byte */
static void parse(const char *name, const char *s, int want_ret, const uint8_t *want)
{
	uint8_t out[5];
	char why[96];
	int ret;

	memset(out, 0xee, sizeof(out));
	ret = hex_parse(s, out, 4);
	why[0] = '\0';
	if (ret != want_ret)
		snprintf(why, sizeof(why), "'%s': returned %d, want %d", s, ret, want_ret);
	else if (want && memcmp(out, want, ret))
		snprintf(why, sizeof(why), "'%s': wrong bytes", s);
	else if (out[4] != 0xee)
		snprintf(why, sizeof(why), "'%s': wrote past the buffer", s);
	check(!why[0], name, why);
}

static void hex_tests(void)
{
	static const uint8_t b4[] = { 0x00, 0xff, 0x10, 0xab };
	static const uint8_t b2[] = { 0x01, 0x02 };
	uint8_t all[256], back[256];
	char text[2 * 256 + 1];
	int i;

	parse("util_hex_valid", "00ff10ab", 4, b4);
	parse("util_hex_upper", "00FF10Ab", 4, b4);
	parse("util_hex_prefix", "0x0102", 2, b2);
	parse("util_hex_prefix_upper", "0X0102", 2, b2);
	parse("util_hex_prefix_full", "0x00ff10ab", 4, b4);
	parse("util_hex_empty", "", 0, NULL);
	parse("util_hex_prefix_only", "0x", 0, NULL);
	parse("util_hex_odd", "abc", -EINVAL, NULL);
	parse("util_hex_odd_prefix", "0x1", -EINVAL, NULL);
	parse("util_hex_bad_char", "0g", -EINVAL, NULL);
	parse("util_hex_bad_late", "0102zz", -EINVAL, NULL);
	parse("util_hex_space", " 012", -EINVAL, NULL);
	parse("util_hex_sign", "-1", -EINVAL, NULL);
	parse("util_hex_double_prefix", "0x0x12", -EINVAL, NULL);
	parse("util_hex_too_long", "0102030405", -E2BIG, NULL);
	parse("util_hex_too_long_prefix", "0x0102030405", -E2BIG, NULL);

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hex_format(all, 3, text);
	check(!strcmp(text, "000102"), "util_hex_format", text);
	hex_format(all, 0, text);
	check(!strcmp(text, ""), "util_hex_format_empty", text);
	hex_format(all, 256, text);
	check(hex_parse(text, back, sizeof(back)) == 256 && !memcmp(all, back, 256) &&
	      !strncmp(text + 2 * 0xab, "ab", 2),
	      "util_hex_roundtrip", "format then parse changed bytes");
}

static void wipe_test(void)
{
	uint8_t buf[34];
	size_t i;
	int ok = 1;

	memset(buf, 0x5a, sizeof(buf));
	wipe(buf + 1, 32);
	for (i = 1; i <= 32; i++)
		ok &= buf[i] == 0;
	check(ok && buf[0] == 0x5a && buf[33] == 0x5a, "util_wipe",
	      "not zeroed, or zeroed outside the range");
}

/* every reason's name: non-empty, [a-z0-9-], not "unknown", unique */
static void drop_names(void)
{
#define COUNT(name, val, str) +1
#define VALS(name, val, str) val,
	static const unsigned int vals[] = { ESPX_DROP_REASONS(VALS) };
	unsigned int r, s, n = 0 ESPX_DROP_REASONS(COUNT);
	char test[64], why[128];
#undef COUNT
#undef VALS

	check(n == ESPX_DROP__MAX, "drop_count", "list has gaps or repeats");
	for (r = 0; r < n; r++) {
		const char *name = espx_drop_name(r);
		const char *p;
		int ok = vals[r] == r && name[0] && strcmp(name, "unknown");

		for (p = name; *p; p++)
			ok &= islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			      *p == '-';
		for (s = 0; s < r; s++)
			ok &= !!strcmp(name, espx_drop_name(s));
		snprintf(test, sizeof(test), "drop_name_%u", r);
		snprintf(why, sizeof(why), "bad or repeated name '%s' (value %u)", name,
			 vals[r]);
		check(ok, test, why);
	}
	check(!strcmp(espx_drop_name(ESPX_DROP__MAX), "unknown"), "drop_name_out_of_range",
	      espx_drop_name(ESPX_DROP__MAX));
}

int main(void)
{
	hex_tests();
	wipe_test();
	drop_names();
	return failed;
}
