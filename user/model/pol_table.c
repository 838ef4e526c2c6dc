// SPDX-License-Identifier: GPL-2.0
/* The policy table's rules (pol_table.h): pure, no map or netlink calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"
#include "model/pol_table.h"
#include "model/xfrm_parse.h"

/* One source host, one destination host, any protocol and port: such a
 * policy goes into espx_policy_host. */
int pol_is_host(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	__u8 full = s->family == AF_INET ? 32 : s->family == AF_INET6 ? 128 : 0;

	return full && s->prefixlen_s == full && s->prefixlen_d == full && !s->proto &&
	       !s->sport_mask && !s->dport_mask;
}

void pol_host_key(struct espx_pol_host_key *k, const struct espx_policy *p, __u32 half)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, p->sel.saddr, sizeof(k->saddr));
	memcpy(k->daddr, p->sel.daddr, sizeof(k->daddr));
	if (p->sel.family == AF_INET) {	/* only the address word counts */
		memset(&k->saddr[1], 0, 12);
		memset(&k->daddr[1], 0, 12);
	}
	k->family = p->sel.family;
	k->dir = p->dir;
	k->half = (__u8)half;
}

int pol_rank_cmp(const void *a, const void *b)
{
	const struct espx_policy *x = a, *y = b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Priority ascending; equal priorities keep their order, which is age
 * order because new policies are appended (XFRM puts a new policy after
 * older ones of the same priority). Insertion sort: stable, n <= 256. */
void pol_sort(struct espx_policy *p, __u32 n)
{
	struct espx_policy tmp;
	__u32 i, j;

	for (i = 1; i < n; i++) {
		tmp = p[i];
		for (j = i; j > 0 && p[j - 1].priority > tmp.priority; j--)
			p[j] = p[j - 1];
		p[j] = tmp;
	}
}

int sa_list_add(struct sa_list *l, const struct espx_sa_key *key, const struct espx_sa *sa)
{
	struct sa_brief *b;

	if (array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), 64))
		return -ENOMEM;
	b = &l->v[l->n++];
	b->key = *key;
	b->flags = sa->flags;
	b->reqid = sa->reqid;
	memcpy(b->saddr, sa->saddr, sizeof(b->saddr));
	b->add_time = sa->add_time;
	b->mode = sa->mode;
	return 0;
}

static int tmpl_match(const struct espx_tmpl *t, const __u32 daddr[4], __u8 family,
		      const struct sa_brief *b)
{
	if (b->key.family != family || memcmp(b->key.daddr, daddr, sizeof(b->key.daddr)))
		return 0;
	if (!(b->flags & ESPX_SA_F_READY) || (b->flags & ESPX_SA_F_HARD_SENT))
		return 0;
	if (b->mode != t->mode)
		return 0;
	if (t->reqid && b->reqid != t->reqid)
		return 0;
	if (t->spi && b->key.spi != t->spi)
		return 0;
	if (t->family && !addr_is_zero(t->saddr) && memcmp(b->saddr, t->saddr, sizeof(b->saddr)))
		return 0;
	return 1;
}

static int brief_cmp(const void *a, const void *b)
{
	const struct sa_brief *x = a, *y = b;

	if (x->key.family != y->key.family)
		return x->key.family < y->key.family ? -1 : 1;
	return memcmp(x->key.daddr, y->key.daddr, sizeof(x->key.daddr));
}

void sa_list_sort(struct sa_list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), brief_cmp);
}

/* policy->sa := the newest usable SA the template allows (as the kernel
 * prefers the newest state during a rekey), or none (spi 0). l is sorted
 * by (family, daddr): only the SAs to the template's destination are seen. */
void pol_resolve(struct espx_policy *p, const struct sa_list *l)
{
	const struct sa_brief *best = NULL;
	struct sa_brief want;
	size_t lo = 0, hi = l->n, mid, i;

	memset(&p->sa, 0, sizeof(p->sa));
	memset(&want, 0, sizeof(want));
	if (!(p->flags & ESPX_POL_F_TMPL) ||
	    xp_tmpl_daddr(p, want.key.daddr, &want.key.family))
		return;
	while (lo < hi) {	/* the first SA not below (family, daddr) */
		mid = lo + (hi - lo) / 2;
		if (brief_cmp(&l->v[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < l->n && !brief_cmp(&l->v[i], &want); i++)
		if (tmpl_match(&p->tmpl, want.key.daddr, want.key.family, &l->v[i]) &&
		    (!best || l->v[i].add_time > best->add_time))
			best = &l->v[i];
	if (best)
		p->sa = best->key;
}

int ike_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct espx_ike_key));
}

/* Both orders of (a, b), so each side's packets find the pair as (local,
 * remote) whichever end is local. Pairs with an unset address are left out. */
static int ike_pair(struct ike_set *s, const __u32 a[4], const __u32 b[4], __u8 family)
{
	size_t len = family == AF_INET ? 4 : 16;
	struct espx_ike_key *k;
	int i;

	if ((family != AF_INET && family != AF_INET6) || addr_is_zero(a) || addr_is_zero(b))
		return 0;
	if (array_grow((void **)&s->v, &s->cap, s->n + 2, sizeof(*s->v), 64))
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		k = &s->v[s->n++];
		memset(k, 0, sizeof(*k));
		memcpy(k->local, i ? b : a, len);
		memcpy(k->remote, i ? a : b, len);
		k->family = family;
	}
	return 0;
}

/* A host selector's addresses (one source, one destination). */
static int sel_hosts(const struct espx_sel *s)
{
	__u8 full = s->family == AF_INET ? 32 : s->family == AF_INET6 ? 128 : 0;

	return full && s->prefixlen_s == full && s->prefixlen_d == full;
}

/* The set: the outer addresses of every SA, and the endpoints of every
 * template: its addresses (tunnel mode), or for a transport template
 * without them, the selector's hosts, between which its SA will run (so
 * IKE can negotiate that SA while the policy has none and drops the rest:
 * what the kernel lets through by the IKE daemon's socket policy).
 * t may be NULL (no policies). Sorted, without repeats. */
int ike_collect(struct ike_set *s, const struct pol_table *t, const struct sa_list *sas)
{
	const struct espx_policy *p;
	__u32 dir, i;
	size_t j, out;
	int err = 0;

	for (j = 0; !err && j < sas->n; j++)
		err = ike_pair(s, sas->v[j].saddr, sas->v[j].key.daddr, sas->v[j].key.family);
	for (dir = 0; t && !err && dir < ESPX_POL__MAX; dir++) {
		for (i = 0; !err && i < t->n[dir]; i++) {
			p = &t->p[dir][i];
			if (!(p->flags & ESPX_POL_F_TMPL))
				continue;
			if (p->tmpl.family && !addr_is_zero(p->tmpl.saddr) && !addr_is_zero(p->tmpl.daddr))
				err = ike_pair(s, p->tmpl.saddr, p->tmpl.daddr, p->tmpl.family);
			else if (p->tmpl.mode == ESPX_MODE_TRANSPORT && sel_hosts(&p->sel))
				err = ike_pair(s, p->sel.saddr, p->sel.daddr, p->sel.family);
		}
	}
	if (err || !s->n)
		return err;
	qsort(s->v, s->n, sizeof(*s->v), ike_key_cmp);
	for (j = 1, out = 1; j < s->n; j++)
		if (ike_key_cmp(&s->v[j], &s->v[out - 1]))
			s->v[out++] = s->v[j];
	s->n = out;
	return 0;
}

/* Too many policies for the table: keep what XFRM would try first, up to
 * ESPX_MAX_POLICY scanned and ESPX_MAX_HOST_POLICY hashed ones. Out: when
 * any had to go, the last scanned slot blocks everything else, so what the
 * dropped policies protect never leaves in plaintext. In and fwd keep what
 * fits (a block-all there would drop IKE itself). *full: some were dropped. */
__u32 pol_truncate(struct espx_policy *v, __u32 n, __u8 dir, int *full)
{
	__u32 i, out = 0, scan = 0, host = 0, scan_max;
	struct espx_policy *last;
	int block;

	pol_sort(v, n);
	for (i = 0; i < n; i++)
		pol_is_host(&v[i]) ? host++ : scan++;
	*full = scan > ESPX_MAX_POLICY || host > ESPX_MAX_HOST_POLICY;
	block = *full && dir == ESPX_POL_OUT;
	scan_max = block ? ESPX_MAX_POLICY - 1 : ESPX_MAX_POLICY;
	scan = host = 0;
	for (i = 0; i < n; i++)
		if (pol_is_host(&v[i]) ? host++ < ESPX_MAX_HOST_POLICY : scan++ < scan_max)
			v[out++] = v[i];
	if (!block)
		return out;
	last = &v[out++];
	memset(last, 0, sizeof(*last));
	last->dir = dir;
	last->action = ESPX_POL_BLOCK;
	last->priority = 0xffffffffu;
	return out;
}

static int same_sel(const struct espx_sel *a, const struct espx_sel *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static int index_used(const struct pol_table *t, __u32 index)
{
	__u32 dir, i;

	for (dir = 0; dir < ESPX_POL__MAX; dir++)
		for (i = 0; i < t->n[dir]; i++)
			if (t->p[dir][i].index == index)
				return 1;
	return 0;
}

/* XFRM's scheme: index = 8 * n + dir, n above every index in use; the
 * lowest free n if a user-chosen index took the top. */
static __u32 index_new(const struct pol_table *t, __u32 dir)
{
	__u32 d, i, top = 0;
	__u64 idx;

	for (d = 0; d < ESPX_POL__MAX; d++)
		for (i = 0; i < t->n[d]; i++)
			if (t->p[d][i].index >> 3 > top)
				top = t->p[d][i].index >> 3;
	idx = ((__u64)top + 1) * 8 + dir;
	if (idx <= 0xffffffffu)
		return (__u32)idx;
	for (idx = 8 + dir; index_used(t, (__u32)idx); idx += 8)
		;
	return (__u32)idx;
}

int pol_insert(struct pol_table *t, struct espx_policy *p)
{
	__u32 dir = p->dir, i;

	for (i = 0; i < t->n[dir]; i++) {
		if (same_sel(&t->p[dir][i].sel, &p->sel)) {
			pr_warn("policy add: a policy with this selector and dir %s exists (index %u); delete it first\n",
				xp_dir_name(p->dir), t->p[dir][i].index);
			return -EEXIST;
		}
	}
	if (t->n[dir] >= ESPX_POL_TABLE_MAX) {
		pr_warn("policy add: policy table full: dir %s has %d policies, the most espx holds\n",
			xp_dir_name(p->dir), ESPX_POL_TABLE_MAX);
		return -ENOSPC;
	}
	if (p->index && index_used(t, p->index)) {
		pr_warn("policy add: index %u is in use; choose another or leave index out\n",
			p->index);
		return -EEXIST;
	}
	if (!p->index)
		p->index = index_new(t, dir);
	/* appended: the stable sort puts it after older equal priorities */
	t->p[dir][t->n[dir]++] = *p;
	return 0;
}

static int pol_matches(const struct xp_policy *q, const struct espx_policy *p)
{
	if (q->has_dir && q->pol.dir != p->dir)
		return 0;
	if (q->has_index)
		return q->pol.index == p->index &&
		       (!q->has_sel || same_sel(&q->pol.sel, &p->sel));
	return same_sel(&q->pol.sel, &p->sel);
}

int pol_remove(struct pol_table *t, const struct xp_policy *q)
{
	__u32 dir, i;

	for (dir = 0; dir < ESPX_POL__MAX; dir++) {
		for (i = 0; i < t->n[dir]; i++) {
			if (!pol_matches(q, &t->p[dir][i]))
				continue;
			memmove(&t->p[dir][i], &t->p[dir][i + 1],
				(t->n[dir] - i - 1) * sizeof(t->p[dir][0]));
			t->n[dir]--;
			return 0;
		}
	}
	if (q->has_index)
		pr_warn("policy del: no policy with index %u%s%s\n", q->pol.index,
			q->has_dir ? " and dir " : "", q->has_dir ? xp_dir_name(q->pol.dir) : "");
	else
		pr_warn("policy del: no policy with this selector and dir %s\n",
			xp_dir_name(q->pol.dir));
	return -ENOENT;
}
