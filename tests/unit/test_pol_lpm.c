// SPDX-License-Identifier: GPL-2.0
/* espx_pol_lpm contents (user/model/pol_lpm.c), no root needed. The datapath
 * takes the longest trie entry containing a packet's address as the set of
 * scanned policies that could match it, so for every address that set must
 * equal the policies whose selector prefix contains the address (family 0
 * selectors: every address). Checked by brute force over nested prefixes
 * (0/0, 10/8, 10.1/16, hosts), duplicates, unmasked selector addresses,
 * family 0, IPv6, and a full table of 256 random policies. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/pol_lpm.h"

#include "check.h"

/* "ADDR/LEN" (or "any": family 0, /0) into a selector's dst or src. */
static void set_prefix(struct espx_sel *s, const char *p, int dst)
{
	char buf[64], *slash;
	__u32 *a = dst ? s->daddr : s->saddr;
	int len;

	if (!strcmp(p, "any"))
		return;
	snprintf(buf, sizeof(buf), "%s", p);
	slash = strchr(buf, '/');
	*slash = '\0';
	len = atoi(slash + 1);
	if (strchr(buf, ':')) {
		s->family = AF_INET6;
		inet_pton(AF_INET6, buf, a);
	} else {
		s->family = AF_INET;
		inet_pton(AF_INET, buf, a);
	}
	if (dst)
		s->prefixlen_d = (__u8)len;
	else
		s->prefixlen_s = (__u8)len;
}

static struct espx_sel sel_of(const char *src, const char *dst)
{
	struct espx_sel s;

	memset(&s, 0, sizeof(s));
	set_prefix(&s, src, 0);
	set_prefix(&s, dst, 1);
	return s;
}

static int addr_of(const char *str, __u32 a[4])
{
	memset(a, 0, 16);
	if (strchr(str, ':')) {
		inet_pton(AF_INET6, str, a);
		return AF_INET6;
	}
	inet_pton(AF_INET, str, a);
	return AF_INET;
}

/* What the trie answers: the longest entry of (family, which) containing a. */
static const struct pol_lpm_entry *lookup(const struct pol_lpm_entry *e, int n, __u8 family,
					  __u8 which, const __u32 a[4])
{
	const struct pol_lpm_entry *best = NULL;
	__u32 full = family == AF_INET ? 32 : 128;
	int i;

	for (i = 0; i < n; i++) {
		if (e[i].key.family != family || e[i].key.which != which)
			continue;
		if (!pol_lpm_contains(e[i].key.addr, e[i].key.prefixlen - ESPX_LPM_HDR_BITS, a,
				      full))
			continue;
		if (!best || e[i].key.prefixlen > best->key.prefixlen)
			best = &e[i];
	}
	return best;
}

/* Brute force: the selectors whose prefix contains a, straight from the
 * selector (not through pol_lpm_prefix). */
static void expect(const struct espx_sel *sel, __u32 n, __u8 family, __u8 which,
		   const __u32 a[4], struct espx_pol_bits *want)
{
	__u32 i, b, plen, full = family == AF_INET ? 32 : 128;
	const __u32 *p;
	int in;

	memset(want, 0, sizeof(*want));
	for (i = 0; i < n; i++) {
		if (sel[i].family && sel[i].family != family)
			continue;
		in = 1;
		if (sel[i].family) {
			p = which == ESPX_LPM_DADDR ? sel[i].daddr : sel[i].saddr;
			plen = which == ESPX_LPM_DADDR ? sel[i].prefixlen_d : sel[i].prefixlen_s;
			if (plen > full)
				plen = full;
			for (b = 0; b < plen && in; b++) {
				__u32 bit = 31 - b % 32;

				in = ((ntohl(p[b / 32]) >> bit) & 1) == ((ntohl(a[b / 32]) >> bit) & 1);
			}
		}
		if (in)
			want->w[i / 64] |= 1ULL << (i % 64);
	}
}

static void bits_str(const struct espx_pol_bits *b, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < ESPX_MAX_POLICY && off + 5 < len; i++)
		if (b->w[i / 64] >> (i % 64) & 1)
			off += (size_t)snprintf(buf + off, len - off, "%d ", i);
	if (!off)
		snprintf(buf, len, "none");
}

/* For address a in both tables: the trie's answer equals the brute force. */
static int agrees(const char *name, const struct espx_sel *sel, __u32 n,
		  const struct pol_lpm_entry *e, int ne, const __u32 a[4], __u8 family, int quiet)
{
	struct espx_pol_bits want, got;
	const struct pol_lpm_entry *hit;
	char w[512], g[512], as[64], what[128];
	__u8 which;
	int ok = 1;

	for (which = ESPX_LPM_DADDR; which <= ESPX_LPM_SADDR; which++) {
		expect(sel, n, family, which, a, &want);
		hit = lookup(e, ne, family, which, a);
		memset(&got, 0, sizeof(got));
		if (hit)
			got = hit->bits;
		if (!memcmp(&got, &want, sizeof(got)))
			continue;
		ok = 0;
		if (quiet)
			break;
		bits_str(&want, w, sizeof(w));
		bits_str(&got, g, sizeof(g));
		inet_ntop(family, a, as, sizeof(as));
		snprintf(what, sizeof(what), "%s %s %s", name, which ? "src" : "dst", as);
		check(0, what, "lookup gives {%s}, the policies containing it are {%s}", g, w);
	}
	return ok;
}

/* Every entry well formed: its half/dir, masked address, prefix lengths
 * in range, no duplicate (family, which, prefix). */
static void well_formed(const char *name, const struct pol_lpm_entry *e, int n, __u8 half,
			__u8 dir)
{
	char what[96];
	int i, j, ok = 1;

	for (i = 0; i < n && ok; i++) {
		__u32 plen = e[i].key.prefixlen - ESPX_LPM_HDR_BITS, m[4];

		memcpy(m, e[i].key.addr, sizeof(m));
		ok = e[i].key.half == half && e[i].key.dir == dir && e[i].key.which <= 1 &&
		     (e[i].key.family == AF_INET || e[i].key.family == AF_INET6) &&
		     e[i].key.prefixlen >= ESPX_LPM_HDR_BITS &&
		     plen <= (e[i].key.family == AF_INET ? 32U : 128U) &&
		     pol_lpm_contains(m, plen, e[i].key.addr, plen) &&
		     (e[i].key.family == AF_INET6 || !(m[1] | m[2] | m[3]));
		for (j = 0; j < i && ok; j++)
			ok = memcmp(&e[i].key, &e[j].key, sizeof(e[i].key)) != 0;
		if (!ok)
			break;
	}
	snprintf(what, sizeof(what), "%s well-formed keys", name);
	check(ok, what, "entry %d is malformed or repeated", i);
}

static struct pol_lpm_entry entries[POL_LPM_ENTRIES_MAX];

static void nested(void)
{
	/* slot: src -> dst */
	static const char *const pols[][2] = {
		{ "0.0.0.0/0", "0.0.0.0/0" },		/* 0 */
		{ "0.0.0.0/0", "10.0.0.0/8" },		/* 1 */
		{ "192.168.0.0/16", "10.1.0.0/16" },	/* 2 */
		{ "192.168.1.0/24", "10.1.2.3/32" },	/* 3 */
		{ "172.16.0.0/12", "10.0.0.0/8" },	/* 4: same dst as 1 */
		{ "0.0.0.0/0", "10.1.77.5/16" },	/* 5: unmasked, = 10.1/16 */
		{ "any", "any" },			/* 6: family 0 */
		{ "::/0", "2001:db8::/32" },		/* 7 */
		{ "2001:db8:1::/48", "2001:db8:1::/48" },	/* 8 */
		{ "::/0", "2001:db8:1:2::1/128" },	/* 9 */
		{ "fe80::/10", "::/0" },		/* 10 */
		{ "192.168.1.7/32", "192.0.2.0/24" },	/* 11 */
	};
	static const char *const addrs[] = {
		"10.1.2.3", "10.1.2.4", "10.1.9.9", "10.2.0.1", "11.0.0.1", "0.0.0.0",
		"255.255.255.255", "192.168.1.7", "192.168.1.8", "192.168.2.1", "172.20.0.1",
		"192.0.2.9", "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:3::", "2001:db8:2::",
		"2001:db9::", "fe80::1", "febf::1", "::", "ffff::1",
	};
	struct espx_sel sel[16];
	__u32 n = sizeof(pols) / sizeof(pols[0]), i, a[4];
	int ne, ok = 1, fam;

	for (i = 0; i < n; i++)
		sel[i] = sel_of(pols[i][0], pols[i][1]);
	ne = pol_lpm_build(sel, n, 1, ESPX_POL_FWD, entries);
	/* dst v4: 0/0 10/8 10.1/16 10.1.2.3/32 192.0.2/24 (family 0 is /0);
	 * dst v6: 2001:db8::/32 /48 /128 ::/0; src v4: 0/0 192.168/16
	 * 192.168.1/24 172.16/12 192.168.1.7/32; src v6: ::/0 2001:db8:1::/48
	 * fe80::/10 (family 0: ::/0) */
	check(ne == 5 + 4 + 5 + 3, "nested entry count", "%d entries, want 17", ne);
	well_formed("nested", entries, ne, 1, ESPX_POL_FWD);
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		fam = addr_of(addrs[i], a);
		ok &= agrees("nested", sel, n, entries, ne, a, (__u8)fam, 0);
	}
	check(ok, "nested lookups equal brute force", "see above");

	/* 10.1.2.3 as destination: 0, 1, 2, 3, 4, 5 and 6 (family 0) */
	addr_of("10.1.2.3", a);
	{
		const struct pol_lpm_entry *h = lookup(entries, ne, AF_INET, ESPX_LPM_DADDR, a);

		check(h && h->key.prefixlen == ESPX_LPM_HDR_BITS + 32 && h->bits.w[0] == 0x7f &&
		      !h->bits.w[1] && !h->bits.w[2] && !h->bits.w[3],
		      "nested 10.1.2.3 dst is slots 0-6", "got %#llx",
		      h ? (unsigned long long)h->bits.w[0] : 0ULL);
	}
}

/* No /0 policy: addresses outside every prefix find no entry. */
static void uncovered(void)
{
	struct espx_sel sel[2];
	__u32 a[4];
	int ne;

	sel[0] = sel_of("10.0.0.0/8", "10.1.0.0/16");
	sel[1] = sel_of("2001:db8::/32", "2001:db8::/32");
	ne = pol_lpm_build(sel, 2, 0, ESPX_POL_IN, entries);
	check(ne == 4, "uncovered entry count", "%d entries, want 4", ne);
	addr_of("10.2.0.1", a);
	check(!lookup(entries, ne, AF_INET, ESPX_LPM_DADDR, a) &&
	      agrees("uncovered", sel, 2, entries, ne, a, AF_INET, 0),
	      "uncovered v4 address has no entry", "an entry matched 10.2.0.1");
	addr_of("2001:db9::1", a);
	check(!lookup(entries, ne, AF_INET6, ESPX_LPM_SADDR, a),
	      "uncovered v6 address has no entry", "an entry matched 2001:db9::1");
	check(pol_lpm_build(sel, 0, 0, ESPX_POL_IN, entries) == 0, "no policies no entries",
	      "entries for an empty table");
	check(pol_lpm_build(sel, ESPX_MAX_POLICY + 1, 0, ESPX_POL_IN, entries) < 0,
	      "too many policies refused", "built a table of 257");
}

static __u32 rnd(void)
{
	static __u32 x = 2463534242U;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* 256 random policies of both families (and some of family 0) on a few
 * base prefixes so they nest; random addresses, near and far from them. */
static void full_table(void)
{
	static struct espx_sel sel[ESPX_MAX_POLICY];
	static const __u32 lens4[] = { 0, 8, 12, 16, 24, 28, 32 }, lens6[] = { 0, 16, 32, 48, 64, 100, 128 };
	__u32 i, j, k, a[4], plen;
	int ne, ok = 1, bad = 0;
	__u8 fam;

	for (i = 0; i < ESPX_MAX_POLICY; i++) {
		struct espx_sel *s = &sel[i];

		memset(s, 0, sizeof(*s));
		if (i % 37 == 5)
			continue;	/* family 0 */
		s->family = rnd() & 1 ? AF_INET6 : AF_INET;
		for (k = 0; k < 2; k++) {
			__u32 *p = k ? s->saddr : s->daddr;

			plen = s->family == AF_INET ? lens4[rnd() % 7] : lens6[rnd() % 7];
			/* few distinct high bits, so prefixes nest and repeat */
			p[0] = htonl(0x0a000000U | (rnd() & 0x00030303U));
			if (s->family == AF_INET6) {
				p[0] = htonl(0x20010db8U);
				p[1] = htonl(rnd() & 0x00010001U);
				p[2] = rnd() & 3;
				p[3] = rnd() & 3;
			}
			if (k)
				s->prefixlen_s = (__u8)plen;
			else
				s->prefixlen_d = (__u8)plen;
		}
	}
	ne = pol_lpm_build(sel, ESPX_MAX_POLICY, 0, ESPX_POL_OUT, entries);
	check(ne > 0 && ne <= POL_LPM_ENTRIES_MAX, "full table entry count", "%d", ne);
	well_formed("full table", entries, ne, 0, ESPX_POL_OUT);
	for (i = 0; i < 20000 && ok; i++) {
		memset(a, 0, sizeof(a));
		fam = i & 1 ? AF_INET6 : AF_INET;
		if (i % 3 == 0) {	/* anywhere */
			for (j = 0; j < 4; j++)
				a[j] = rnd();
		} else {		/* near the policies' addresses */
			const struct espx_sel *s = &sel[rnd() % ESPX_MAX_POLICY];

			memcpy(a, rnd() & 1 ? s->daddr : s->saddr, sizeof(a));
			a[rnd() % (fam == AF_INET ? 1 : 4)] ^= htonl(1U << (rnd() % 32)) & -(rnd() & 1);
		}
		if (fam == AF_INET)
			a[1] = a[2] = a[3] = 0;
		ok = agrees("full table", sel, ESPX_MAX_POLICY, entries, ne, a, fam, 1);
		bad = (int)i;
	}
	check(ok, "full table lookups equal brute force", "address %d differs", bad);
}

int main(void)
{
	nested();
	uncovered();
	full_table();
	return failed;
}
