// SPDX-License-Identifier: GPL-2.0
/* Pin names and paths (user/platform/pins.h), no root and no bpffs needed.
 * bpffs refuses '.' in names, so a link pin stores a device name with '.'
 * written as ':' and parse must give back the device name and kind exactly;
 * anything that is not "<dev>:xdp" or "<dev>:tc" (other pins in links/, or
 * a name that does not fit the caller's buffer) must be refused, since
 * `espx status` walks links/ and trusts what parse returns. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/nsstate.h"
#include "platform/pins.h"

static int failed;

static void __attribute__((format(printf, 3, 4)))
check(int ok, const char *why, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "PASS " : "FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (ok)
		printf("\n");
	else
		printf(": %s\n", why);
	failed |= !ok;
}

static void roundtrip(const char *ifname, const char *kind)
{
	char pin[64], want[64], dev[32], k[8];
	size_t i;
	int ret;

	/* expected pin name: ifname with '.' -> ':', then ":<kind>" */
	snprintf(want, sizeof(want), "%s:%s", ifname, kind);
	for (i = 0; i < strlen(ifname); i++)
		if (want[i] == '.')
			want[i] = ':';

	espx_link_pin_name(pin, sizeof(pin), ifname, kind);
	check(!strcmp(pin, want) && !strchr(pin, '.'), "unexpected pin name",
	      "pins_name_%s_%s", ifname, kind);

	ret = espx_link_pin_parse(pin, dev, sizeof(dev), k, sizeof(k));
	check(!ret && !strcmp(dev, ifname) && !strcmp(k, kind),
	      "parse did not give back device and kind",
	      "pins_roundtrip_%s_%s", ifname, kind);
}

static void rejects(const char *pin)
{
	char dev[32], k[8];

	check(espx_link_pin_parse(pin, dev, sizeof(dev), k, sizeof(k)) == -EINVAL,
	      "accepted a name that is not a link pin", "pins_parse_rejects_'%s'", pin);
}

static void buffers(void)
{
	char dev[16], k[8], pin[8];
	int ret;

	/* "eth0.100" needs 9 bytes */
	check(espx_link_pin_parse("eth0:100:xdp", dev, 8, k, sizeof(k)) == -EINVAL,
	      "device name did not fit but parse succeeded", "pins_parse_small_ifname");
	ret = espx_link_pin_parse("eth0:100:xdp", dev, 9, k, sizeof(k));
	check(!ret && !strcmp(dev, "eth0.100"), "exact-size buffer refused",
	      "pins_parse_exact_ifname");

	/* "xdp" needs 4 bytes */
	ret = espx_link_pin_parse("eth0:xdp", dev, sizeof(dev), k, 3);
	/* once a bug: the kind was cut to "xd" and parse returned 0 */
	check(ret == -EINVAL, "kind did not fit but parse succeeded", "pins_parse_small_kind");
	ret = espx_link_pin_parse("eth0:xdp", dev, sizeof(dev), k, 4);
	check(!ret && !strcmp(k, "xdp"), "exact-size kind buffer refused",
	      "pins_parse_exact_kind");

	/* a truncated pin name is still terminated and has no '.' */
	memset(pin, 'z', sizeof(pin));
	espx_link_pin_name(pin, sizeof(pin), "eth0.100", "xdp");
	check(!strcmp(pin, "eth0:10"), "truncated pin name wrong",
	      "pins_name_truncated");
}

static void paths(void)
{
	const char *root = espx_pin_root();
	char buf[512], want[512];
	size_t n = strlen(root);

	/* one directory per namespace identity: its nsfs inode */
	snprintf(want, sizeof(want), "/sys/fs/bpf/espx/net-%lu", espx_netns_ino());
	check(espx_netns_ino() > 0 && !strcmp(root, want), root, "pins_root_is_netns_inode");
	check(espx_pin_root() == root, "root not cached", "pins_root_stable");

	espx_pin_path(buf, sizeof(buf), NULL, "espx_sa");
	snprintf(want, sizeof(want), "%s/espx_sa", root);
	check(!strncmp(buf, root, n) && !strcmp(buf, want), buf, "pins_path_nosub");

	espx_pin_path(buf, sizeof(buf), "progs", "sa_setup");
	snprintf(want, sizeof(want), "%s/progs/sa_setup", root);
	check(!strncmp(buf, root, n) && !strcmp(buf, want), buf, "pins_path_sub");

	espx_pin_path(buf, 10, "links", "eth0:xdp");
	check(strlen(buf) == 9 && !strncmp(buf, root, 9), buf, "pins_path_truncated");
}

int main(void)
{
	static const char *const names[] = {
		"eth0", "va", "eth0.100", "a.b.c", "x", "a.b.c.d.e.f.g.h",
	};
	static const char *const bad[] = {
		"eth0", "eth0:foo", ":xdp", "progs", "", "eth0:", "eth0:xdp:",
		"eth0:XDP", "eth0:tcx", "eth0:xd", "eth0.xdp",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		roundtrip(names[i], "xdp");
		roundtrip(names[i], "tc");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejects(bad[i]);
	buffers();
	paths();
	return failed;
}
