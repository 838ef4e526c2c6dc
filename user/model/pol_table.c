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

/* A selector of one family (not "any"): such a policy can be hashed. */
int pol_is_hashable(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;

	if (s->family == AF_INET)
		return s->prefixlen_d <= 32 && s->prefixlen_s <= 32;
	return s->family == AF_INET6 && s->prefixlen_d <= 128 && s->prefixlen_s <= 128;
}

/* a & the network-order mask of a plen-bit prefix, words beyond the
 * family's address zero. */
static void addr_masked(__u32 out[4], const __u32 a[4], __u8 plen, __u8 family)
{
	__u32 w, lo, bits;

	for (w = 0; w < 4; w++) {
		lo = w * 32;
		bits = plen <= lo ? 0 : plen - lo >= 32 ? 32 : plen - lo;
		out[w] = !bits || (family == AF_INET && w) ? 0 :
			 bits == 32 ? a[w] : a[w] & htonl(~0U << (32 - bits));
	}
}

__u8 pol_kflags(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	__u8 k;

	if (!s->proto)
		return 0;
	k = ESPX_PK_PROTO;
	if (s->dport_mask == 0xffff)
		k |= ESPX_PK_DPORT;
	if (s->sport_mask == 0xffff)
		k |= ESPX_PK_SPORT;
	return k;
}

void pol_hash_key(struct espx_pol_hash_key *k, const struct espx_policy *p, __u32 half,
		  __u32 seq)
{
	__u8 kf = pol_kflags(p);

	memset(k, 0, sizeof(*k));
	if ((kf & ESPX_PK_PROTO) && seq != ESPX_SEQ_ADDRS)
		k->proto = p->sel.proto;
	if ((kf & ESPX_PK_DPORT) && seq < ESPX_SEQ_ADDRS)
		k->dport = p->sel.dport;
	if ((kf & ESPX_PK_SPORT) && seq < ESPX_SEQ_ADDRS)
		k->sport = p->sel.sport;
	k->kflags = kf;
	addr_masked(k->saddr, p->sel.saddr, p->sel.prefixlen_s, p->sel.family);
	addr_masked(k->daddr, p->sel.daddr, p->sel.prefixlen_d, p->sel.family);
	k->family = p->sel.family;
	k->dir = p->dir;
	k->half = (__u8)half;
	k->seq = (__u8)seq;
	k->prefixlen_d = p->sel.prefixlen_d;
	k->prefixlen_s = p->sel.prefixlen_s;
}

/* qsort context for pol_place (one thread places at a time). */
static const struct espx_policy *place_v;

/* By hash key (seq 0), then rank: a chain's policies together, in order. */
static int place_cmp(const void *a, const void *b)
{
	const struct espx_policy *x = &place_v[*(const __u32 *)a], *y = &place_v[*(const __u32 *)b];
	struct espx_pol_hash_key kx, ky;
	int c;

	pol_hash_key(&kx, x, 0, 0);
	pol_hash_key(&ky, y, 0, 0);
	c = memcmp(&kx, &ky, sizeof(kx));
	return c ? c : x->rank < y->rank ? -1 : x->rank > y->rank;
}

int pol_place(struct espx_policy *v, __u32 n, __u8 *seq, __u8 ncls[2],
	      struct espx_pol_class cls[2][ESPX_POL_CLASSES])
{
	static const __u32 ones[4] = { ~0U, ~0U, ~0U, ~0U };
	__u32 i, j, c, f, nhash = 0, *idx;
	struct espx_pol_hash_key kp, kc;
	__u32 run;
	__u8 kf;

	ncls[0] = ncls[1] = 0;
	memset(cls, 0, 2 * ESPX_POL_CLASSES * sizeof(cls[0][0]));
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	/* classes in order of first appearance, i.e. of best rank */
	for (i = 0; i < n; i++) {
		v[i].flags &= (__u16)~(ESPX_POL_F_HASH | ESPX_POL_F_MORE);
		seq[i] = 0;
		if (!pol_is_hashable(&v[i]) || nhash == ESPX_MAX_HASH_POLICY)
			continue;
		f = v[i].sel.family == AF_INET6;
		kf = pol_kflags(&v[i]);
		for (c = 0; c < ncls[f]; c++)
			if (cls[f][c].prefixlen_d == v[i].sel.prefixlen_d &&
			    cls[f][c].prefixlen_s == v[i].sel.prefixlen_s && cls[f][c].kflags == kf)
				break;
		if (c == ncls[f]) {
			if (c == ESPX_POL_CLASSES)
				continue;
			cls[f][c].prefixlen_d = v[i].sel.prefixlen_d;
			cls[f][c].prefixlen_s = v[i].sel.prefixlen_s;
			cls[f][c].kflags = kf;
			addr_masked(cls[f][c].dmask, ones, v[i].sel.prefixlen_d, v[i].sel.family);
			addr_masked(cls[f][c].smask, ones, v[i].sel.prefixlen_s, v[i].sel.family);
			cls[f][c].best_rank = v[i].rank;
			ncls[f]++;
		}
		idx[nhash++] = i;
	}
	/* chains: the first ESPX_POL_DEPTH of each key; the rest to slots */
	place_v = v;
	qsort(idx, nhash, sizeof(*idx), place_cmp);
	for (i = 0; i < nhash; i = j) {
		pol_hash_key(&kp, &v[idx[i]], 0, 0);
		for (j = i + 1; j < nhash; j++) {
			pol_hash_key(&kc, &v[idx[j]], 0, 0);
			if (memcmp(&kp, &kc, sizeof(kp)))
				break;
		}
		run = j - i < ESPX_POL_DEPTH ? j - i : ESPX_POL_DEPTH;
		for (c = 0; c < run; c++) {
			v[idx[i + c]].flags |= ESPX_POL_F_HASH;
			if (c + 1 < run)
				v[idx[i + c]].flags |= ESPX_POL_F_MORE;
			seq[idx[i + c]] = (__u8)c;
		}
	}
	free(idx);
	for (i = 0, nhash = 0; i < n; i++)
		nhash += !!(v[i].flags & ESPX_POL_F_HASH);
	return (int)nhash;
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

/* Too many policies for the table: keep what XFRM would try first. Which
 * go to slots is pol_place()'s answer, and a policy's place depends only
 * on the policies ranked before it, so dropping slot policies from the
 * end changes the place of none that stay. Out: when any had to go, the
 * last slot blocks everything else, so what the dropped policies protect
 * never leaves in plaintext. In and fwd keep what fits (a block-all there
 * would drop IKE itself). *full: some were dropped. */
__u32 pol_truncate(struct espx_policy *v, __u32 n, __u8 dir, int *full)
{
	struct espx_pol_class cls[2][ESPX_POL_CLASSES];
	__u32 i, out = 0, slots = 0, slot_max;
	__u8 ncls[2], *seq = malloc(n ? n : 1);
	struct espx_policy *last;
	int block;

	pol_sort(v, n);
	for (i = 0; i < n; i++)
		v[i].rank = i;
	if (!seq || pol_place(v, n, seq, ncls, cls) < 0) {
		/* out of memory: count every policy as a slot (fail closed) */
		for (i = 0; i < n; i++)
			v[i].flags &= (__u16)~(ESPX_POL_F_HASH | ESPX_POL_F_MORE);
	}
	free(seq);
	for (i = 0; i < n; i++)
		slots += !(v[i].flags & ESPX_POL_F_HASH);
	*full = slots > ESPX_MAX_POLICY;
	block = *full && dir == ESPX_POL_OUT;
	slot_max = block ? ESPX_MAX_POLICY - 1 : ESPX_MAX_POLICY;
	slots = 0;
	for (i = 0; i < n; i++)
		if ((v[i].flags & ESPX_POL_F_HASH) || slots++ < slot_max)
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
