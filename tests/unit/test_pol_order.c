// SPDX-License-Identifier: GPL-2.0
/* The daemon's policy order after a full dump must be the order it has from
 * events (user/platform/xfrm_nl.h, xnl_pol_sort_age), which is XFRM's order among
 * equal priorities: older first.
 *
 * A model of the kernel (net/xfrm/xfrm_policy.c): xfrm_policy_insert puts
 * each new or updated policy at the head of net->xfrm.policy_all
 * (__xfrm_policy_link: list_add), which a dump walks from the head, so a
 * dump is newest first; an update keeps the index (delpol->index), a new
 * policy gets idx_generator | dir with the generator growing by 8. The
 * daemon's event handling (user/cmd/daemon.c pol_apply/pol_remove): NEWPOLICY
 * appends, an update replaces in place, a delete removes.
 *
 *  1. the case from issue 11: an older protect policy and a newer bypass
 *     (allow without template) of the same priority: from the raw dump the
 *     bypass would come first (and win), sorted the protect one does, as
 *     from events; and after the protect one is updated, reading the dump
 *     backwards would not do either, the index does;
 *  2. random histories of adds, updates and deletes: the sorted dump equals
 *     the event order every time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform/xfrm_nl.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : ": ", ok ? "" : why);
	failed |= !ok;
}

#define MAXP 512

/* The kernel: policy_all, newest first. */
struct kernel {
	struct xnl_pol all[MAXP];
	size_t n;
	__u32 gen;
};

/* The daemon, from events. */
struct events {
	struct xnl_pol v[MAXP];
	size_t n;
};

static __u32 gen_index(struct kernel *k, __u8 dir)
{
	__u32 idx = k->gen | dir;

	k->gen += 8;
	return idx ? idx : 8;
}

static void k_link_head(struct kernel *k, const struct xnl_pol *p)
{
	memmove(&k->all[1], &k->all[0], k->n * sizeof(k->all[0]));
	k->all[0] = *p;
	k->n++;
}

static int k_find(const struct kernel *k, __u32 index)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (k->all[i].pol.index == index)
			return (int)i;
	return -1;
}

static void k_unlink(struct kernel *k, int i)
{
	memmove(&k->all[i], &k->all[i + 1], (k->n - (size_t)i - 1) * sizeof(k->all[0]));
	k->n--;
}

/* add: a new policy; returns its index */
static __u32 k_add(struct kernel *k, struct events *e, __u8 dir, __u32 prio, __u8 action)
{
	struct xnl_pol p;

	memset(&p, 0, sizeof(p));
	p.pol.dir = dir;
	p.pol.priority = prio;
	p.pol.action = action;
	p.pol.index = gen_index(k, dir);
	k_link_head(k, &p);
	e->v[e->n++] = p;	/* NEWPOLICY: appended */
	return p.pol.index;
}

/* update (same selector, so the same index): a new object at the head */
static void k_update(struct kernel *k, struct events *e, __u32 index, __u8 action)
{
	int i = k_find(k, index);
	struct xnl_pol p;
	size_t j;

	if (i < 0)
		return;
	p = k->all[i];
	p.pol.action = action;
	k_unlink(k, i);
	k_link_head(k, &p);
	for (j = 0; j < e->n; j++)	/* UPDPOLICY: in place */
		if (e->v[j].pol.index == index)
			e->v[j] = p;
}

static void k_delete(struct kernel *k, struct events *e, __u32 index)
{
	int i = k_find(k, index);
	size_t j;

	if (i < 0)
		return;
	k_unlink(k, i);
	for (j = 0; j < e->n; j++)
		if (e->v[j].pol.index == index) {
			memmove(&e->v[j], &e->v[j + 1], (e->n - j - 1) * sizeof(e->v[0]));
			e->n--;
			break;
		}
}

/* What espx applies for dir among these (all overlapping): the lowest
 * priority, and among equal ones the first in list order (policy.c pol_sort
 * is a stable sort by priority). */
static const struct xnl_pol *first_of(const struct xnl_pol *v, size_t n, __u8 dir)
{
	const struct xnl_pol *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].pol.dir == dir && (!best || v[i].pol.priority < best->pol.priority))
			best = &v[i];
	return best;
}

static int same_order(const struct xnl_pol *a, const struct xnl_pol *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i].pol.index != b[i].pol.index || a[i].pol.action != b[i].pol.action)
			return 0;
	return 1;
}

static struct kernel K;
static struct events E;
static struct xnl_pol dump[MAXP];

static void test_issue_case(void)
{
	const struct xnl_pol *w;
	__u32 protect, bypass;
	size_t i;

	memset(&K, 0, sizeof(K));
	memset(&E, 0, sizeof(E));
	protect = k_add(&K, &E, ESPX_POL_OUT, 100, ESPX_POL_ALLOW);
	E.v[0].pol.flags = K.all[0].pol.flags = ESPX_POL_F_TMPL;
	k_add(&K, &E, ESPX_POL_IN, 100, ESPX_POL_ALLOW);
	bypass = k_add(&K, &E, ESPX_POL_OUT, 100, ESPX_POL_ALLOW);
	check(protect < bypass, "kernel_index_grows_with_age", "index of the newer policy is lower");
	memcpy(dump, K.all, K.n * sizeof(dump[0]));
	w = first_of(dump, K.n, ESPX_POL_OUT);
	check(w && w->pol.index == bypass, "raw_dump_newest_first_bypass_wins",
	      "the unsorted dump did not put the bypass first (model wrong?)");
	xnl_pol_sort_age(dump, K.n);
	w = first_of(dump, K.n, ESPX_POL_OUT);
	check(w && w->pol.index == protect && (w->pol.flags & ESPX_POL_F_TMPL),
	      "sorted_dump_older_protect_wins", "the newer bypass comes first after the sort");
	w = first_of(E.v, E.n, ESPX_POL_OUT);
	check(w && w->pol.index == protect, "events_older_protect_wins", "events order lost the protect policy");
	check(K.n == E.n && same_order(dump, E.v, E.n), "sorted_dump_equals_events", "orders differ");

	/* an update (a rekey's UPDPOLICY) keeps the protect policy's place in
	 * XFRM's lookup but moves it to the head of the dump: reading the dump
	 * backwards would now put the bypass first; the index does not */
	k_update(&K, &E, protect, ESPX_POL_ALLOW);
	for (i = 0; i < K.n; i++)
		dump[i] = K.all[K.n - 1 - i];
	w = first_of(dump, K.n, ESPX_POL_OUT);
	check(w && w->pol.index == bypass, "reversed_dump_not_enough_after_update",
	      "the reversed dump put the updated protect policy first (model wrong?)");
	memcpy(dump, K.all, K.n * sizeof(dump[0]));
	xnl_pol_sort_age(dump, K.n);
	w = first_of(dump, K.n, ESPX_POL_OUT);
	check(w && w->pol.index == protect, "sorted_dump_after_update_protect_wins",
	      "the bypass comes first after the update");
	check(K.n == E.n && same_order(dump, E.v, E.n), "sorted_dump_after_update_equals_events",
	      "orders differ");
}

static void test_random_histories(void)
{
	unsigned int seed, ops, bad = 0, total = 0;
	char why[160] = "";

	for (seed = 1; seed <= 200; seed++) {
		srand(seed);
		memset(&K, 0, sizeof(K));
		memset(&E, 0, sizeof(E));
		K.gen = (unsigned int)rand() % 1000 * 8;	/* earlier policies, long gone */
		for (ops = 0; ops < 300; ops++) {
			int r = rand() % 10;

			if ((r < 5 || K.n < 2) && K.n < MAXP - 1)
				k_add(&K, &E, (__u8)(rand() % 3), (__u32)(rand() % 3),
				      (__u8)(rand() % 2));
			else if (r < 8)
				k_update(&K, &E, K.all[rand() % K.n].pol.index, (__u8)(rand() % 2));
			else
				k_delete(&K, &E, K.all[rand() % K.n].pol.index);
		}
		memcpy(dump, K.all, K.n * sizeof(dump[0]));
		xnl_pol_sort_age(dump, K.n);
		total++;
		if (K.n != E.n || !same_order(dump, E.v, E.n)) {
			if (!bad++)
				snprintf(why, sizeof(why), "seed %u: %zu policies from the dump, %zu from events, orders differ",
					 seed, K.n, E.n);
		}
	}
	if (!bad)
		snprintf(why, sizeof(why), "%u histories", total);
	check(!bad, "random_histories_dump_equals_events", why);
}

int main(void)
{
	test_issue_case();
	test_random_histories();
	return failed;
}
