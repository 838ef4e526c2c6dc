// SPDX-License-Identifier: GPL-2.0
/* espx_pol_bin contents (user/model/pol_bin.c), no root needed. The datapath
 * looks up a packet's protocol, destination port and source port, each
 * exactly and on a miss in the kind's ANY entry (no entry: no slot), and
 * ANDs the three. That must be the slots whose protocol and port selectors
 * admit the packet (as sel_match decides), exactly when no selector has a
 * partial port mask and a superset when some do. Checked by brute force on
 * a hand-made table and on random tables of up to 256 selectors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/pol_bin.h"

#include "check.h"

static __u32 rnd(void)
{
	static __u32 x = 88172645U;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

struct flow {
	__u8 proto;
	__u16 sport, dport;	/* network order */
};

/* The map: the entry with this exact key, if any. */
static const struct pol_bin_entry *find(const struct pol_bin_entry *e, int n, __u8 half,
					__u8 dir, __u8 kind, __u16 value)
{
	struct espx_pol_bin_key k;
	int i;

	memset(&k, 0, sizeof(k));
	k.half = half;
	k.dir = dir;
	k.kind = kind;
	k.value = value;
	for (i = 0; i < n; i++)
		if (!memcmp(&e[i].key, &k, sizeof(k)))	/* padding too, as the hash */
			return &e[i];
	return NULL;
}

/* What the datapath gets: exact else ANY, for each kind, ANDed. */
static void lookup(const struct pol_bin_entry *e, int n, __u8 half, __u8 dir,
		   const struct flow *f, struct espx_pol_bits *got)
{
	static const __u8 kinds[3][2] = {
		{ ESPX_BIN_PROTO, ESPX_BIN_PROTO_ANY },
		{ ESPX_BIN_DPORT, ESPX_BIN_DPORT_ANY },
		{ ESPX_BIN_SPORT, ESPX_BIN_SPORT_ANY },
	};
	const struct pol_bin_entry *h;
	__u16 v;
	int k, w;

	memset(got, 0xff, sizeof(*got));
	for (k = 0; k < 3; k++) {
		v = k == 0 ? f->proto : k == 1 ? f->dport : f->sport;
		h = find(e, n, half, dir, kinds[k][0], v);
		if (!h)
			h = find(e, n, half, dir, kinds[k][1], 0);
		for (w = 0; w < ESPX_POL_WORDS; w++)
			got->w[w] &= h ? h->bits.w[w] : 0;
	}
}

/* Brute force, the protocol and port part of sel_match (bpf/lib/selector.h). */
static void expect(const struct espx_sel *sel, __u32 n, const struct flow *f,
		   struct espx_pol_bits *want)
{
	__u32 i;

	memset(want, 0, sizeof(*want));
	for (i = 0; i < n; i++)
		if ((!sel[i].proto || sel[i].proto == f->proto) &&
		    !((f->sport ^ sel[i].sport) & sel[i].sport_mask) &&
		    !((f->dport ^ sel[i].dport) & sel[i].dport_mask))
			want->w[i / 64] |= 1ULL << (i % 64);
}

static int bits_eq(const struct espx_pol_bits *a, const struct espx_pol_bits *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static int bits_sub(const struct espx_pol_bits *a, const struct espx_pol_bits *b)
{
	int w;

	for (w = 0; w < ESPX_POL_WORDS; w++)
		if (a->w[w] & ~b->w[w])
			return 0;
	return 1;
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

/* Keys well formed: half/dir, known kind, ANY with value 0, zero padding,
 * no key twice, no all-zero ANY entry. */
static int well_formed(const struct pol_bin_entry *e, int n, __u8 half, __u8 dir)
{
	int i, j, any, w, empty;

	for (i = 0; i < n; i++) {
		any = e[i].key.kind & 1;
		empty = 1;
		for (w = 0; w < ESPX_POL_WORDS; w++)
			empty &= !e[i].bits.w[w];
		if (e[i].key.half != half || e[i].key.dir != dir ||
		    e[i].key.kind > ESPX_BIN_SPORT_ANY || e[i].key.pad || e[i].key.pad2 ||
		    (any && (e[i].key.value || empty)) ||
		    (e[i].key.kind == ESPX_BIN_PROTO && (!e[i].key.value || e[i].key.value > 255)))
			return 0;
		for (j = 0; j < i; j++)
			if (!memcmp(&e[i].key, &e[j].key, sizeof(e[i].key)))
				return 0;
	}
	return 1;
}

static struct pol_bin_entry entries[POL_BIN_ENTRIES_MAX];

/* Does the lookup agree with brute force for f? exact: equality, else superset. */
static int agrees(const char *name, const struct espx_sel *sel, __u32 n, int ne, __u8 half,
		  __u8 dir, const struct flow *f, int exact, int quiet)
{
	struct espx_pol_bits want, got;
	char w[1024], g[1024], what[160];

	expect(sel, n, f, &want);
	lookup(entries, ne, half, dir, f, &got);
	if (exact ? bits_eq(&got, &want) : bits_sub(&want, &got))
		return 1;
	if (!quiet) {
		bits_str(&want, w, sizeof(w));
		bits_str(&got, g, sizeof(g));
		snprintf(what, sizeof(what), "%s proto %u sport %u dport %u", name, f->proto,
			 ntohs(f->sport), ntohs(f->dport));
		check(0, what, "lookups give {%s}, the selectors admitting it are {%s}%s", g, w,
		      exact ? "" : " (may be a superset)");
	}
	return 0;
}

static struct espx_sel sel_pp(__u8 proto, int sport, int dport)
{
	struct espx_sel s;

	memset(&s, 0, sizeof(s));
	s.proto = proto;
	if (sport >= 0) {
		s.sport = htons((__u16)sport);
		s.sport_mask = 0xffff;
	}
	if (dport >= 0) {
		s.dport = htons((__u16)dport);
		s.dport_mask = 0xffff;
	}
	return s;
}

static void hand_made(void)
{
	struct espx_sel sel[8];
	struct flow f;
	const struct pol_bin_entry *h;
	int ne, ok = 1;
	__u32 n = 0, p, sp, dp;
	static const __u8 protos[] = { 0, 1, 6, 17, 50 };
	static const __u16 ports[] = { 0, 22, 53, 80, 443, 500, 4500, 65535 };

	sel[n++] = sel_pp(IPPROTO_TCP, -1, 80);		/* 0 */
	sel[n++] = sel_pp(IPPROTO_TCP, -1, 443);	/* 1 */
	sel[n++] = sel_pp(IPPROTO_UDP, 500, 500);	/* 2 */
	sel[n++] = sel_pp(0, -1, -1);			/* 3: anything */
	sel[n++] = sel_pp(IPPROTO_UDP, -1, 53);		/* 4 */
	sel[n++] = sel_pp(IPPROTO_TCP, 22, -1);		/* 5 */
	sel[n++] = sel_pp(IPPROTO_ICMP, 8, 0);		/* 6: echo request, code 0 */
	ne = pol_bin_build(sel, n, 1, ESPX_POL_OUT, entries, POL_BIN_ENTRIES_MAX);
	/* proto 6 17 1 ANY; dport 80 443 500 53 0 ANY; sport 500 22 8 ANY */
	check(ne == 4 + 6 + 4, "hand-made entry count", "%d entries, want 14", ne);
	check(well_formed(entries, ne, 1, ESPX_POL_OUT), "hand-made well-formed keys",
	      "a key is malformed or repeated");
	h = find(entries, ne, 1, ESPX_POL_OUT, ESPX_BIN_DPORT, htons(80));
	check(h && h->bits.w[0] == ((1 << 0) | (1 << 3) | (1 << 5)),
	      "hand-made dport 80 is slots 0 3 5 (port in network order)", "got %#llx",
	      h ? (unsigned long long)h->bits.w[0] : 0ULL);
	h = find(entries, ne, 1, ESPX_POL_OUT, ESPX_BIN_PROTO_ANY, 0);
	check(h && h->bits.w[0] == 1 << 3, "hand-made proto any is slot 3", "got %#llx",
	      h ? (unsigned long long)h->bits.w[0] : 0ULL);
	for (p = 0; p < sizeof(protos); p++)
		for (sp = 0; sp < sizeof(ports) / 2; sp++)
			for (dp = 0; dp < sizeof(ports) / 2; dp++) {
				f.proto = protos[p];
				f.sport = htons(ports[sp]);
				f.dport = htons(ports[dp]);
				ok &= agrees("hand-made", sel, n, ne, 1, ESPX_POL_OUT, &f, 1, 0);
			}
	check(ok, "hand-made lookups equal brute force", "see above");

	/* without a catch-all: unnamed values find no ANY entry, no slot */
	ne = pol_bin_build(sel, 3, 0, ESPX_POL_IN, entries, POL_BIN_ENTRIES_MAX);
	check(ne == 2 + 3 + 1 + 1 && !find(entries, ne, 0, ESPX_POL_IN, ESPX_BIN_PROTO_ANY, 0) &&
	      !find(entries, ne, 0, ESPX_POL_IN, ESPX_BIN_DPORT_ANY, 0) &&
	      find(entries, ne, 0, ESPX_POL_IN, ESPX_BIN_SPORT_ANY, 0),
	      "no ANY entry where every selector names a value",
	      "%d entries, want 7 with SPORT_ANY only", ne);
	check(pol_bin_build(sel, 0, 0, ESPX_POL_IN, entries, POL_BIN_ENTRIES_MAX) == 0,
	      "no policies no entries", "entries for an empty table");
	check(pol_bin_build(sel, ESPX_MAX_POLICY + 1, 0, ESPX_POL_IN, entries,
			    POL_BIN_ENTRIES_MAX) == -EINVAL,
	      "too many policies refused", "built a table of 257");
	check(pol_bin_build(sel, n, 0, ESPX_POL_IN, entries, 13) == -ENOSPC &&
	      pol_bin_build(sel, n, 0, ESPX_POL_IN, entries, 14) == 14,
	      "too small an output refused", "did not stop at max");
}

/* A random port selector: none, exact, or (if partial) a partial mask. */
static void rnd_port(__u16 *port, __u16 *mask, int partial)
{
	static const __u16 ports[] = { 0, 22, 53, 80, 443, 500, 1024, 4500, 8080, 65535 };
	static const __u16 masks[] = { 0xff00, 0xfc00, 0x00ff, 0x8000, 0xfffe };
	__u32 r = rnd() % (partial ? 4 : 3);

	*port = *mask = 0;
	if (r == 0)
		return;
	*port = htons(ports[rnd() % 10]);
	if (r == 3) {
		*mask = htons(masks[rnd() % 5]);
		*port &= *mask;
		return;
	}
	*mask = 0xffff;
}

/* Flows near the table's values (or anywhere), random tables of random
 * size: exact tables and ones with partial masks. */
static void random_tables(void)
{
	static struct espx_sel sel[ESPX_MAX_POLICY];
	static const __u8 protos[] = { 0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	char name[64];
	struct flow f;
	__u32 t, i, n, nflow = 0;
	int ne, ok = 1, partial, wf = 1, bad = -1;

	for (t = 0; t < 400 && ok; t++) {
		partial = t & 1;
		n = t % 10 == 0 ? ESPX_MAX_POLICY : 1 + rnd() % (t % 3 ? 16 : ESPX_MAX_POLICY);
		for (i = 0; i < n; i++) {
			memset(&sel[i], 0, sizeof(sel[i]));
			sel[i].proto = protos[rnd() % 4];
			rnd_port(&sel[i].dport, &sel[i].dport_mask, partial);
			rnd_port(&sel[i].sport, &sel[i].sport_mask, partial);
		}
		ne = pol_bin_build(sel, n, (__u8)(t & 1), (__u8)(t % 3), entries,
				   POL_BIN_ENTRIES_MAX);
		if (ne < 0 || ne > (int)POL_BIN_ENTRIES_MAX ||
		    !well_formed(entries, ne, (__u8)(t & 1), (__u8)(t % 3))) {
			wf = 0;
			bad = (int)t;
			break;
		}
		snprintf(name, sizeof(name), "table %u (%u slots%s)", t, n,
			 partial ? ", partial masks" : "");
		for (i = 0; i < 500 && ok; i++, nflow++) {
			const struct espx_sel *s = &sel[rnd() % n];

			f.proto = rnd() & 3 ? protos[rnd() % 4] : (__u8)rnd();
			f.sport = rnd() & 3 ? s->sport ^ (rnd() & 1 ? 0 : (__u16)(rnd() & 0x0101))
					    : (__u16)rnd();
			f.dport = rnd() & 3 ? s->dport ^ (rnd() & 1 ? 0 : (__u16)(rnd() & 0x0101))
					    : (__u16)rnd();
			ok = agrees(name, sel, n, ne, (__u8)(t & 1), (__u8)(t % 3), &f, !partial,
				    0);
		}
	}
	check(wf, "random tables well-formed keys", "table %d", bad);
	snprintf(name, sizeof(name), "random tables: %u flows, lookups agree with brute force",
		 nflow);
	check(ok, name, "see above");
}

int main(void)
{
	hand_made();
	random_tables();
	return failed;
}
