// SPDX-License-Identifier: GPL-2.0
/* The policy table's rules (user/model/pol_table.h) and the SA key order
 * (user/model/sa_table.h), no root needed: XFRM's order (stable by
 * priority), which policies are hashed, template resolution to the newest
 * usable SA, fail-closed truncation, XFRM's index scheme, delete by
 * selector or index, and the IKE address pairs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "model/pol_table.h"
#include "model/sa_table.h"
#include "model/xfrm_parse.h"

/* `ip xfrm policy add` (or, del, `... del`) words parsed; exits the test
 * if refused. */
static struct xp_policy parse(const char *line, int del)
{
	char buf[512], *argv[64], *tok;
	struct xp_policy q;
	struct xp_err err;
	int argc = 0, r;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok(buf, " "); tok && argc < 64; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	r = del ? xp_parse_policy_del(argc, argv, &q, &err) :
		  xp_parse_policy_add(argc, argv, &q, &err);
	if (r) {
		printf("FAIL parse '%s': %s\n", line, err.msg);
		exit(1);
	}
	return q;
}

static struct espx_policy P(const char *line)
{
	return parse(line, 0).pol;
}

static struct xp_policy Q(const char *line)
{
	return parse(line, 1);
}

static __u32 v4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void sa_add(struct sa_list *l, const char *src, const char *dst, __u32 spi, __u8 mode,
		   __u32 reqid, __u32 flags, __u64 add_time)
{
	struct espx_sa_key k = { 0 };
	struct espx_sa *sa = calloc(1, sizeof(*sa));

	k.family = AF_INET;
	k.daddr[0] = v4(dst);
	k.spi = htonl(spi);
	sa->saddr[0] = v4(src);
	sa->mode = mode;
	sa->reqid = reqid;
	sa->flags = flags;
	sa->add_time = add_time;
	if (sa_list_add(l, &k, sa)) {
		printf("FAIL sa_list_add: out of memory\n");
		exit(1);
	}
	free(sa);
}

static void test_sort(void)
{
	struct espx_policy p[4];
	const __u32 prio[4] = { 5, 1, 5, 1 };
	int i;

	for (i = 0; i < 4; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].priority = prio[i];
		p[i].index = (__u32)i;
	}
	pol_sort(p, 4);
	check(p[0].index == 1 && p[1].index == 3 && p[2].index == 0 && p[3].index == 2,
	      "pol_sort_priority_then_age", "order %u %u %u %u, want 1 3 0 2",
	      p[0].index, p[1].index, p[2].index, p[3].index);
}

static void test_hash_key(void)
{
	struct espx_policy p = P("src 10.0.0.1 dst 10.0.0.2 dir out");
	struct espx_pol_hash_key k;

	check(pol_is_hashable(&p), "hash_v4_host", "not hashable");
	p = P("src 10.1.2.3/16 dst 10.9.9.9/24 proto tcp dport 80 dir out");
	check(pol_is_hashable(&p), "hash_v4_prefix_port", "not hashable");
	p = P("src 2001:db8::1 dst 2001:db8::2 dir in");
	check(pol_is_hashable(&p), "hash_v6", "not hashable");
	p = P("dir out");
	p.sel.family = 0;	/* any, as a netlink client may give it */
	check(!pol_is_hashable(&p), "hash_not_family_any", "hashable");
	p = P("src 10.1.2.3/16 dst 10.9.9.9/20 dir fwd");
	p.sel.saddr[1] = 0xdead;	/* stray words beyond the IPv4 address */
	pol_hash_key(&k, &p, 1, 3);
	check(k.saddr[0] == v4("10.1.0.0") && !k.saddr[1] && k.daddr[0] == v4("10.9.0.0") &&
	      k.family == AF_INET && k.dir == ESPX_POL_FWD && k.half == 1 && k.seq == 3 &&
	      k.prefixlen_s == 16 && k.prefixlen_d == 20,
	      "hash_key_masked", "key %08x %08x /%u /%u seq %u", ntohl(k.saddr[0]),
	      ntohl(k.daddr[0]), k.prefixlen_s, k.prefixlen_d, k.seq);
	p = P("src 10.1.2.3/16 dst 10.9.9.9/24 proto udp sport 53 dport 5353 dir out");
	pol_hash_key(&k, &p, 0, 0);
	check(k.kflags == (ESPX_PK_PROTO | ESPX_PK_DPORT | ESPX_PK_SPORT) && k.proto == 17 &&
	      k.dport == htons(5353) && k.sport == htons(53), "hash_key_exact_fields",
	      "kflags %x proto %u ports %u %u", k.kflags, k.proto, ntohs(k.sport), ntohs(k.dport));
	pol_hash_key(&k, &p, 0, ESPX_SEQ_NOPORTS);
	check(k.proto == 17 && !k.dport && !k.sport && k.seq == ESPX_SEQ_NOPORTS,
	      "hash_key_summary_noports", "proto %u ports %u %u", k.proto, k.sport, k.dport);
	pol_hash_key(&k, &p, 0, ESPX_SEQ_ADDRS);
	check(!k.proto && !k.dport && !k.sport && k.kflags == 7 && k.seq == ESPX_SEQ_ADDRS,
	      "hash_key_summary_addrs", "proto %u ports %u %u", k.proto, k.sport, k.dport);
	p = P("src 2001:db8:ffff:ffff::/33 dst ::/0 dir in");
	pol_hash_key(&k, &p, 0, 0);
	check(k.saddr[0] == htonl(0x20010db8) && k.saddr[1] == htonl(0x80000000) && !k.saddr[2] &&
	      !(k.daddr[0] | k.daddr[1] | k.daddr[2] | k.daddr[3]),
	      "hash_key_masked_v6", "saddr %08x %08x", ntohl(k.saddr[0]), ntohl(k.saddr[1]));
}

/* Placement: classes in order of best rank, chains in rank order with
 * "more" on all but the last, overflow of classes and chains to slots. */
static void test_place(void)
{
	enum { N = ESPX_POL_DEPTH + ESPX_POL_CLASSES + 8 };
	struct espx_policy *v = calloc(N, sizeof(*v));
	struct espx_pol_class cls[2][ESPX_POL_CLASSES];
	__u8 seq[N], ncls[2];
	char line[128];
	int n = 0, i, got, ok;

	v[n++] = P("src 10.0.0.0/24 dst 10.1.0.0/24 proto tcp dport 80 dir out");	/* 24/24 tcp dport */
	v[n] = P("dir out");							/* any: slots */
	v[n++].sel.family = 0;
	v[n++] = P("src 2001:db8::/64 dst 2001:db8:1::/64 dir out");		/* IPv6 64/64 */
	v[n] = P("src 10.0.0.0/24 dst 10.1.0.0/24 proto tcp dport 80 dir out");	/* same key: chain */
	v[n].sel.sport = htons(1024);	/* a port range: not part of the key */
	v[n++].sel.sport_mask = htons(0xfc00);
	v[n++] = P("src 10.0.0.7 dst 10.1.0.9 dir out");			/* 32/32 */
	for (i = 0; i < ESPX_POL_DEPTH + 1; i++) {	/* one chain too long: the 17th to slots */
		v[n] = P("src 10.2.0.0/16 dst 10.3.0.0/16 proto tcp dir out");
		v[n].sel.sport = htons((__u16)(i << 8));
		v[n++].sel.sport_mask = htons(0xff00);
	}
	for (i = 0; i < ESPX_POL_CLASSES; i++) {	/* 3 classes so far: 13 more fit */
		snprintf(line, sizeof(line), "src 10.4.0.0/%d dst 10.5.0.0/8 dir out", 1 + i);
		v[n++] = P(line);
	}
	for (i = 0; i < n; i++)
		v[i].rank = (__u32)i;
	got = pol_place(v, (__u32)n, seq, ncls, cls);
	check(ncls[0] == ESPX_POL_CLASSES && ncls[1] == 1, "place_classes_per_family",
	      "v4 %u v6 %u", ncls[0], ncls[1]);
	check(cls[0][0].prefixlen_d == 24 && cls[0][0].prefixlen_s == 24 && cls[0][0].best_rank == 0 &&
	      cls[0][1].prefixlen_d == 32 && cls[0][1].best_rank == 4 &&
	      cls[0][2].prefixlen_d == 16 && cls[0][2].best_rank == 5 && cls[1][0].best_rank == 2,
	      "place_classes_best_rank_order", "%u/%u@%u %u@%u %u@%u", cls[0][0].prefixlen_d,
	      cls[0][0].prefixlen_s, cls[0][0].best_rank, cls[0][1].prefixlen_d, cls[0][1].best_rank,
	      cls[0][2].prefixlen_d, cls[0][2].best_rank);
	check(!(v[1].flags & ESPX_POL_F_HASH), "place_family_any_in_slots", "hashed");
	check((v[0].flags & ESPX_POL_F_MORE) && seq[0] == 0 && !(v[3].flags & ESPX_POL_F_MORE) &&
	      seq[3] == 1 && (v[3].flags & ESPX_POL_F_HASH), "place_chain_rank_order_more",
	      "seq %u %u flags %x %x", seq[0], seq[3], v[0].flags, v[3].flags);
	ok = 1;
	for (i = 0; i < ESPX_POL_DEPTH; i++)
		ok &= (v[5 + i].flags & ESPX_POL_F_HASH) && seq[5 + i] == i &&
		      !!(v[5 + i].flags & ESPX_POL_F_MORE) == (i + 1 < ESPX_POL_DEPTH);
	check(ok && !(v[5 + ESPX_POL_DEPTH].flags & ESPX_POL_F_HASH), "place_chain_depth_overflow",
	      "the chain's first %d are not hashed in order, or the next is", ESPX_POL_DEPTH);
	i = 6 + ESPX_POL_DEPTH;
	check((v[i + ESPX_POL_CLASSES - 4].flags & ESPX_POL_F_HASH) &&
	      !(v[i + ESPX_POL_CLASSES - 3].flags & ESPX_POL_F_HASH),
	      "place_class_overflow", "class %d hashed or class %d not", ESPX_POL_CLASSES,
	      ESPX_POL_CLASSES + 1);
	/* hashed: all but family any, the 17th of the chain and 3 classes */
	check(got == n - 1 - 1 - 3, "place_count", "%d hashed of %d", got, n);
	check(cls[0][0].kflags == (ESPX_PK_PROTO | ESPX_PK_DPORT) && !cls[0][1].kflags &&
	      cls[0][2].kflags == ESPX_PK_PROTO, "place_class_exact_fields", "kflags %x %x %x",
	      cls[0][0].kflags, cls[0][1].kflags, cls[0][2].kflags);
	free(v);
}

static void test_resolve(void)
{
	struct espx_policy p = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp reqid 5 mode tunnel");
	const __u32 ok = ESPX_SA_F_READY;
	struct sa_list l = { 0 };

	pol_resolve(&p, &l);
	check(!p.sa.spi, "resolve_no_sas_none", "spi 0x%x", ntohl(p.sa.spi));
	sa_add(&l, "1.1.1.1", "3.3.3.3", 0x107, ESPX_MODE_TUNNEL, 5, ok, 80);	/* other dst */
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x100, ESPX_MODE_TUNNEL, 5, ok, 10);
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x101, ESPX_MODE_TUNNEL, 5, ok, 20);
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x102, ESPX_MODE_TUNNEL, 5, ok | ESPX_SA_F_HARD_SENT, 30);
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x103, ESPX_MODE_TUNNEL, 5, 0, 40);	/* not ready */
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x104, ESPX_MODE_TRANSPORT, 5, ok, 50);
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x105, ESPX_MODE_TUNNEL, 6, ok, 60);
	sa_add(&l, "9.9.9.9", "2.2.2.2", 0x106, ESPX_MODE_TUNNEL, 5, ok, 70);
	sa_list_sort(&l);
	pol_resolve(&p, &l);
	check(ntohl(p.sa.spi) == 0x101 && p.sa.daddr[0] == v4("2.2.2.2"),
	      "resolve_newest_usable", "spi 0x%x, want 0x101 (newer ones are hard-expired, not ready, or differ in mode, reqid, source)",
	      ntohl(p.sa.spi));
	p.tmpl.spi = htonl(0x100);
	pol_resolve(&p, &l);
	check(ntohl(p.sa.spi) == 0x100, "resolve_tmpl_spi", "spi 0x%x, want 0x100",
	      ntohl(p.sa.spi));
	p.tmpl.spi = htonl(0x102);
	pol_resolve(&p, &l);
	check(!p.sa.spi, "resolve_hard_expired_never", "spi 0x%x, want none", ntohl(p.sa.spi));
	p = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel");
	pol_resolve(&p, &l);
	check(ntohl(p.sa.spi) == 0x105, "resolve_any_reqid", "spi 0x%x, want 0x105",
	      ntohl(p.sa.spi));
	p = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out action block");
	p.sa.spi = htonl(1);
	pol_resolve(&p, &l);
	check(!p.sa.spi, "resolve_no_tmpl_none", "spi 0x%x", ntohl(p.sa.spi));
	free(l.v);
}

/* Hashable policies that pol_place() cannot hash (a 17th class) count
 * against the slots: 16 classes of one policy, then 300 of a 17th class. */
static void test_truncate_placed(void)
{
	__u32 n = ESPX_POL_CLASSES + 300, i, got, hashed = 0, slots = 0;
	struct espx_policy *v = calloc(n + 1, sizeof(*v));
	char line[128];
	int full = 0;

	for (i = 0; i < n; i++) {
		if (i < ESPX_POL_CLASSES)
			snprintf(line, sizeof(line), "src 10.0.0.0/%u dst 11.0.0.0/8 dir out", 8 + i);
		else
			snprintf(line, sizeof(line), "src 12.%u.%u.0/24 dst 13.0.0.0/30 dir out",
				 i / 256, i % 256);
		v[i] = P(line);
		v[i].priority = i;
	}
	got = pol_truncate(v, n, ESPX_POL_OUT, &full);
	for (i = 0; i < got; i++)
		(v[i].flags & ESPX_POL_F_HASH) ? hashed++ : slots++;
	check(full && got == ESPX_POL_CLASSES + ESPX_MAX_POLICY && hashed == ESPX_POL_CLASSES &&
	      slots == ESPX_MAX_POLICY && v[got - 1].action == ESPX_POL_BLOCK &&
	      v[got - 2].priority == ESPX_POL_CLASSES + ESPX_MAX_POLICY - 2,
	      "truncate_counts_unplaced_as_slots",
	      "%u kept (%u hashed, %u slots), full %d, last action %u, before it priority %u",
	      got, hashed, slots, full, v[got - 1].action, v[got - 2].priority);
	free(v);
}

static void test_truncate(void)
{
	__u32 n = ESPX_MAX_POLICY + 2, i, got;
	struct espx_policy *v = calloc(n + 1, sizeof(*v));
	int full = 0;

	for (i = 0; i < n; i++) {	/* family any: slots, not hashed; highest priority last */
		v[i] = P("src 10.0.0.0/8 dst 11.0.0.0/8 dir out");
		v[i].sel.family = 0;
		v[i].priority = n - i;
		v[i].index = i;
	}
	got = pol_truncate(v, n, ESPX_POL_OUT, &full);
	check(got == ESPX_MAX_POLICY && full, "truncate_out_count", "%u kept, full %d", got, full);
	check(v[got - 1].action == ESPX_POL_BLOCK && v[got - 1].priority == 0xffffffffu &&
	      !v[got - 1].sel.family && v[got - 1].dir == ESPX_POL_OUT,
	      "truncate_out_ends_blocking", "last: action %u priority %u family %u",
	      v[got - 1].action, v[got - 1].priority, v[got - 1].sel.family);
	check(v[0].index == n - 1 && v[got - 2].priority == ESPX_MAX_POLICY - 1,
	      "truncate_keeps_xfrm_first", "first index %u, last kept priority %u",
	      v[0].index, v[got - 2].priority);
	for (i = 0; i < n; i++) {
		v[i] = P("src 10.0.0.0/8 dst 11.0.0.0/8 dir in");
		v[i].sel.family = 0;
		v[i].priority = i;
	}
	got = pol_truncate(v, n, ESPX_POL_IN, &full);
	check(got == ESPX_MAX_POLICY && full && v[got - 1].action == ESPX_POL_ALLOW,
	      "truncate_in_no_block", "%u kept, full %d, last action %u", got, full,
	      v[got - 1].action);
	for (i = 0; i < 3; i++) {
		v[i] = P("src 10.0.0.0/8 dst 11.0.0.0/8 dir out");
		v[i].priority = 3 - i;
	}
	got = pol_truncate(v, 3, ESPX_POL_OUT, &full);
	check(got == 3 && !full && v[0].priority == 1, "truncate_fits_sorted",
	      "%u kept, full %d, first priority %u", got, full, v[0].priority);
	free(v);
	test_truncate_placed();
}

static void test_insert_remove(void)
{
	struct pol_table *t = calloc(1, sizeof(*t));
	struct espx_policy p;
	struct xp_policy q;
	int err;

	p = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out");
	err = pol_insert(t, &p);
	check(!err && t->n[ESPX_POL_OUT] == 1 && t->p[ESPX_POL_OUT][0].index == 8 + ESPX_POL_OUT,
	      "insert_first_index", "err %d, index %u", err, t->p[ESPX_POL_OUT][0].index);
	p = P("src 10.3.0.0/16 dst 10.4.0.0/16 dir in index 800");
	err = pol_insert(t, &p);
	check(!err && t->p[ESPX_POL_IN][0].index == 800, "insert_given_index", "err %d", err);
	p = P("src 10.5.0.0/16 dst 10.6.0.0/16 dir fwd");
	err = pol_insert(t, &p);
	check(!err && t->p[ESPX_POL_FWD][0].index == 808 + ESPX_POL_FWD, "insert_index_above_top",
	      "err %d, index %u", err, t->p[ESPX_POL_FWD][0].index);
	p = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 9");
	check(pol_insert(t, &p) == -EEXIST, "insert_same_selector_refused", "accepted");
	p = P("src 10.7.0.0/16 dst 10.2.0.0/16 dir out index 800");
	check(pol_insert(t, &p) == -EEXIST, "insert_index_in_use_refused", "accepted");
	q = Q("src 10.1.0.0/16 dst 10.2.0.0/16 dir in");
	check(pol_remove(t, &q) == -ENOENT && t->n[ESPX_POL_OUT] == 1, "remove_wrong_dir_none",
	      "removed");
	q = Q("index 800");
	check(!pol_remove(t, &q) && !t->n[ESPX_POL_IN], "remove_by_index", "still %u in",
	      t->n[ESPX_POL_IN]);
	q = Q("src 10.1.0.0/16 dst 10.2.0.0/16 dir out");
	check(!pol_remove(t, &q) && !t->n[ESPX_POL_OUT], "remove_by_selector", "still %u out",
	      t->n[ESPX_POL_OUT]);
	t->n[ESPX_POL_OUT] = ESPX_POL_TABLE_MAX;
	p = P("src 10.9.0.0/16 dst 10.2.0.0/16 dir out");
	check(pol_insert(t, &p) == -ENOSPC, "insert_full_refused", "accepted");
	free(t);
}

static void test_ike(void)
{
	struct pol_table *t = calloc(1, sizeof(*t));
	struct ike_set s = { 0 };
	struct sa_list l = { 0 };
	int err;

	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x100, ESPX_MODE_TUNNEL, 5, ESPX_SA_F_READY, 1);
	sa_add(&l, "1.1.1.1", "2.2.2.2", 0x101, ESPX_MODE_TUNNEL, 5, ESPX_SA_F_READY, 2);
	t->p[ESPX_POL_OUT][0] = P("src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 2.2.2.2 dst 1.1.1.1 proto esp mode tunnel");
	t->p[ESPX_POL_OUT][1] = P("src 10.0.0.5 dst 10.0.0.6 dir out tmpl proto esp mode transport");
	t->p[ESPX_POL_OUT][2] = P("src 10.0.0.0/24 dst 10.0.0.6 dir out tmpl proto esp mode transport");
	t->n[ESPX_POL_OUT] = 3;
	err = ike_collect(&s, t, &l);
	/* (1.1.1.1, 2.2.2.2) both ways once, (10.0.0.5, 10.0.0.6) both ways; the
	 * transport template without one host on each side adds nothing */
	check(!err && s.n == 4, "ike_pairs_deduplicated", "err %d, %zu pairs, want 4", err, s.n);
	check(s.n == 4 && s.v[0].local[0] == v4("1.1.1.1") && s.v[0].remote[0] == v4("2.2.2.2") &&
	      ike_key_cmp(&s.v[0], &s.v[1]) < 0 && ike_key_cmp(&s.v[2], &s.v[3]) < 0,
	      "ike_pairs_sorted", "not in ike_key_cmp order");
	free(s.v);
	s = (struct ike_set){ 0 };
	err = ike_collect(&s, NULL, &l);
	check(!err && s.n == 2, "ike_no_policies_sa_pairs", "err %d, %zu pairs", err, s.n);
	free(s.v);
	free(l.v);
	free(t);
}

static void test_sa_key_order(void)
{
	struct espx_sa_key k[3] = { 0 };

	k[0].family = AF_INET6;
	k[1].family = AF_INET;
	k[1].daddr[0] = v4("10.0.0.2");
	k[1].spi = htonl(0x200);
	k[2].family = AF_INET;
	k[2].daddr[0] = v4("10.0.0.2");
	k[2].spi = htonl(0x1ff);
	qsort(k, 3, sizeof(k[0]), sa_key_cmp);
	check(k[0].family == AF_INET && ntohl(k[0].spi) == 0x1ff && ntohl(k[1].spi) == 0x200 &&
	      k[2].family == AF_INET6, "sa_key_order_family_dst_spi",
	      "order: family %u spi 0x%x, family %u spi 0x%x, family %u", k[0].family,
	      ntohl(k[0].spi), k[1].family, ntohl(k[1].spi), k[2].family);
}

int main(void)
{
	test_sort();
	test_hash_key();
	test_place();
	test_resolve();
	test_truncate();
	test_insert_remove();
	test_ike();
	test_sa_key_order();
	return failed;
}
