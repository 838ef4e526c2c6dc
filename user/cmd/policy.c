// SPDX-License-Identifier: GPL-2.0
/* Policies: `espx policy add|del|list|flush`, and policy_sync().
 *
 * Every change is read-copy-update on the two halves of espx_policy: read
 * the active half, change the copy, sort it, resolve each template to an
 * SA, write the copy to the inactive half, then switch espx_config.active
 * in one map update. The datapath never sees a half-written table. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "common/json.h"
#include "common/log.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "model/pol_bin.h"
#include "model/pol_lpm.h"
#include "cmd/policy.h"
#include "common/util.h"
#include "model/xfrm_parse.h"

void policy_usage(FILE *f)
{
	fprintf(f,
		"Usage: espx policy add SELECTOR dir { in | out | fwd } [ priority N ] [ index N ]\n"
		"                       [ action { allow | block } ] [ ptype main ]\n"
		"                       [ tmpl [ src ADDR ] [ dst ADDR ] proto esp [ spi SPI ] [ reqid N ]\n"
		"                              [ mode { transport | tunnel } ] [ level { required | use } ] ]\n"
		"       espx policy { del | delete } { SELECTOR dir DIR | index N }\n"
		"       espx policy { list | show } [ -j ]\n"
		"       espx policy flush\n"
		"SELECTOR := [ src PREFIX ] [ dst PREFIX ] [ proto P [ sport N ] [ dport N ] ]\n");
}

/* The table as user space edits it: one direction's policies in order,
 * scanned and hashed (host-to-host) ones together. */
struct pol_table {
	struct espx_config cfg;
	__u32 n[ESPX_POL__MAX];
	struct espx_policy p[ESPX_POL__MAX][ESPX_POL_TABLE_MAX];
};

/* The policy maps every change reads: espx_policy, espx_config and
 * espx_policy_host; -errno (message printed) and nothing open if any is
 * missing. */
static int pol_open(struct espx_dp *dp)
{
	int pol, cfg, host;

	espx_dp_init(dp);
	pol = espx_dp_fd(dp, ESPX_MAP_POLICY);
	if (pol < 0)
		return pol;
	cfg = espx_dp_fd(dp, ESPX_MAP_CONFIG);
	host = espx_dp_fd(dp, ESPX_MAP_POLICY_HOST);
	if (cfg < 0 || host < 0) {
		espx_dp_close(dp);
		return cfg < 0 ? cfg : host;
	}
	return 0;
}

/* One source host, one destination host, any protocol and port: such a
 * policy goes into espx_policy_host. */
static int pol_is_host(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	__u8 full = s->family == AF_INET ? 32 : s->family == AF_INET6 ? 128 : 0;

	return full && s->prefixlen_s == full && s->prefixlen_d == full && !s->proto &&
	       !s->sport_mask && !s->dport_mask;
}

static void host_key(struct espx_pol_host_key *k, const struct espx_policy *p, __u32 half)
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

static int rank_cmp(const void *a, const void *b)
{
	const struct espx_policy *x = a, *y = b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Read the active half into t. */
static int pol_read(const struct espx_dp *dp, struct pol_table *t)
{
	const int *fd = dp->fd;
	__u32 zero = 0, half, dir, i, slot;

	memset(t, 0, sizeof(*t));
	if (bpf_map_lookup_elem(fd[ESPX_MAP_CONFIG], &zero, &t->cfg)) {
		pr_warn("reading espx_config: %s\n", strerror(errno));
		return -errno;
	}
	half = t->cfg.active & 1;
	for (dir = 0; dir < ESPX_POL__MAX; dir++) {
		t->n[dir] = t->cfg.count[half][dir];
		if (t->n[dir] > ESPX_MAX_POLICY)
			t->n[dir] = ESPX_MAX_POLICY;
		for (i = 0; i < t->n[dir]; i++) {
			slot = ESPX_POL_SLOT(half, dir, i);
			if (bpf_map_lookup_elem(fd[ESPX_MAP_POLICY], &slot, &t->p[dir][i])) {
				pr_warn("reading espx_policy slot %u: %s\n", slot, strerror(errno));
				return -errno;
			}
		}
	}
	{
		struct espx_pol_host_key k, *prev = NULL, cur;
		struct espx_policy v;

		while (!bpf_map_get_next_key(fd[ESPX_MAP_POLICY_HOST], prev, &k)) {
			cur = k;
			prev = &cur;
			if (k.half != half || k.dir >= ESPX_POL__MAX ||
			    t->n[k.dir] >= ESPX_POL_TABLE_MAX ||
			    bpf_map_lookup_elem(fd[ESPX_MAP_POLICY_HOST], &k, &v))
				continue;
			t->p[k.dir][t->n[k.dir]++] = v;
		}
	}
	for (dir = 0; dir < ESPX_POL__MAX; dir++)	/* back into XFRM order */
		qsort(t->p[dir], t->n[dir], sizeof(t->p[dir][0]), rank_cmp);
	return 0;
}

/* Priority ascending; equal priorities keep their order, which is age
 * order because new policies are appended (XFRM puts a new policy after
 * older ones of the same priority). Insertion sort: stable, n <= 256. */
static void pol_sort(struct espx_policy *p, __u32 n)
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

/* What a template needs to know about each SA. */
struct sa_brief {
	struct espx_sa_key key;
	__u32 flags;
	__u32 reqid;
	__u32 saddr[4];
	__u64 add_time;
	__u8 mode;
};

struct sa_list {
	struct sa_brief *v;
	size_t n, cap;
};

static int sa_collect(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct sa_list *l = ctx;
	struct sa_brief *b;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		b = realloc(l->v, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		l->v = b;
		l->cap = cap;
	}
	b = &l->v[l->n++];
	b->key = *key;
	b->flags = sa->flags;
	b->reqid = sa->reqid;
	memcpy(b->saddr, sa->saddr, sizeof(b->saddr));
	b->add_time = sa->add_time;
	b->mode = sa->mode;
	return 0;
}

static int is_zero(const __u32 a[4])
{
	return !(a[0] | a[1] | a[2] | a[3]);
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
	if (t->family && !is_zero(t->saddr) && memcmp(b->saddr, t->saddr, sizeof(b->saddr)))
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

/* policy->sa := the newest usable SA the template allows (as the kernel
 * prefers the newest state during a rekey), or none (spi 0). l is sorted
 * by (family, daddr): only the SAs to the template's destination are seen. */
static void pol_resolve(struct espx_policy *p, const struct sa_list *l)
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

/* Remove one half's entries (the half about to be written: out of use
 * since the last switch) from a map whose key has a __u8 half at half_off:
 * espx_policy_host, espx_pol_lpm, espx_pol_bin. */
static int half_clear(int fd, size_t key_size, size_t half_off, __u32 half)
{
	unsigned char k[64], next[64];
	int more;

	if (key_size > sizeof(k))
		return -EINVAL;
	more = !bpf_map_get_next_key(fd, NULL, next);
	while (more) {
		memcpy(k, next, key_size);
		more = !bpf_map_get_next_key(fd, k, next);
		if (k[half_off] == half && bpf_map_delete_elem(fd, k) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

#define HALF_CLEAR(fd, type, h) half_clear(fd, sizeof(type), offsetof(type, half), h)

/* Write the bins of one (half, dir) from its scanned slots' selectors. */
static int lpm_write(int fd, const struct espx_sel *sel, __u32 n, __u32 half, __u32 dir,
		     struct pol_lpm_entry *e)
{
	int i, ne = pol_lpm_build(sel, n, (__u8)half, (__u8)dir, e);

	if (ne < 0)
		return ne;
	for (i = 0; i < ne; i++)
		if (bpf_map_update_elem(fd, &e[i].key, &e[i].bits, BPF_ANY))
			return -errno;
	return 0;
}

/* The same for espx_pol_bin (protocol and port bins). */
static int bin_write(int fd, const struct espx_sel *sel, __u32 n, __u32 half, __u32 dir,
		     struct pol_bin_entry *e)
{
	int i, ne = pol_bin_build(sel, n, (__u8)half, (__u8)dir, e, POL_BIN_ENTRIES_MAX);

	if (ne < 0)
		return ne;
	for (i = 0; i < ne; i++)
		if (bpf_map_update_elem(fd, &e[i].key, &e[i].bits, BPF_ANY))
			return -errno;
	return 0;
}

/* ---- espx_ike: the address pairs whose UDP 500/4500 is IKE ---- */

struct ike_set {
	struct espx_ike_key *v;
	size_t n, cap;
};

static int ike_key_cmp(const void *a, const void *b)
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

	if ((family != AF_INET && family != AF_INET6) || is_zero(a) || is_zero(b))
		return 0;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;

		k = realloc(s->v, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		s->v = k;
		s->cap = cap;
	}
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
static int ike_collect(struct ike_set *s, const struct pol_table *t, const struct sa_list *sas)
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
			if (p->tmpl.family && !is_zero(p->tmpl.saddr) && !is_zero(p->tmpl.daddr))
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

/* Add every pair of the set; the number that could not be added. */
static size_t ike_add(int fd, const struct ike_set *s, int *err)
{
	__u32 one = 1;
	size_t j, failed = 0;

	for (j = 0; j < s->n; j++) {
		if (bpf_map_update_elem(fd, &s->v[j], &one, BPF_ANY)) {
			*err = -errno;
			failed++;
		}
	}
	return failed;
}

/* Delete every pair not in the set. */
static int ike_prune(int fd, const struct ike_set *s)
{
	struct espx_ike_key k, next;
	int more;

	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		k = next;
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (s->n && bsearch(&k, s->v, s->n, sizeof(*s->v), ike_key_cmp))
			continue;
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* A refresh in two steps around the switch of espx_config: new pairs go in
 * before the policies that need them are live (ike_begin), stale ones go
 * after (ike_finish), so a pair that stays is never missing. What did not
 * fit at first (the map full of stale pairs) is added again after the
 * pruning. */
static size_t ike_begin(int fd, const struct ike_set *s)
{
	int err = 0;

	return ike_add(fd, s, &err);
}

static void ike_finish(int fd, const struct ike_set *s, size_t failed)
{
	int err = ike_prune(fd, s);

	if (!err && failed)
		ike_add(fd, s, &err);
	if (err)
		pr_warn("updating espx_ike (%zu address pairs whose UDP 500/4500 bypasses policy as IKE): %s; IKE between them may be dropped by policy\n",
			s->n, strerror(-err));
}

static int sa_read(struct espx_dp *dp, struct sa_list *sas)
{
	int sa_fd, err;

	sa_fd = espx_dp_fd(dp, ESPX_MAP_SA);
	if (sa_fd < 0)
		return sa_fd;
	err = sa_foreach(sa_fd, sa_collect, sas);
	if (err) {
		pr_warn("reading SAs to resolve policy templates: %s\n", strerror(-err));
		return err;
	}
	if (sas->n)
		qsort(sas->v, sas->n, sizeof(*sas->v), brief_cmp);
	return 0;
}

/* espx_ike alone, for an SA change while there are no policies. */
static int ike_refresh(struct espx_dp *dp)
{
	struct sa_list sas = { 0 };
	struct ike_set ike = { 0 };
	int fd, err;

	fd = espx_dp_fd(dp, ESPX_MAP_IKE);
	if (fd < 0)
		return fd;
	err = sa_read(dp, &sas);
	if (!err)
		err = ike_collect(&ike, NULL, &sas);
	if (!err)
		ike_finish(fd, &ike, ike_begin(fd, &ike));
	free(ike.v);
	free(sas.v);
	return err;
}

/* What one commit needs besides the tables. */
struct commit_buf {
	struct espx_sel sel[ESPX_MAX_POLICY];		/* scanned slots' selectors */
	struct pol_lpm_entry lpm[POL_LPM_ENTRIES_MAX];
	struct pol_bin_entry bin[POL_BIN_ENTRIES_MAX];
};

/* Sort, resolve, write the inactive half (scanned slots, hashed host
 * policies, and the LPM and protocol/port bins of the scanned ones), add
 * the IKE pairs,
 * switch in one write, remove stale IKE pairs. The old half stays intact
 * until the next commit, so a packet that read the old espx_config still
 * finds it. */
static int pol_commit(struct espx_dp *dp, struct pol_table *t)
{
	const int *fd = dp->fd;
	struct sa_list sas = { 0 };
	struct ike_set ike = { 0 };
	__u32 zero = 0, next, dir, i, slot, nscan, nhost;
	struct commit_buf *buf = NULL;
	struct espx_pol_host_key hk;
	struct espx_policy *p;
	int lpm_fd, bin_fd = -1, ike_fd = -1, err;
	size_t ike_failed = 0;

	lpm_fd = espx_dp_fd(dp, ESPX_MAP_POL_LPM);
	if (lpm_fd < 0)
		return lpm_fd;
	bin_fd = espx_dp_fd(dp, ESPX_MAP_POL_BIN);
	if (bin_fd < 0)
		return bin_fd;
	ike_fd = espx_dp_fd(dp, ESPX_MAP_IKE);
	err = ike_fd < 0 ? ike_fd : sa_read(dp, &sas);
	if (!err && !(buf = malloc(sizeof(*buf))))
		err = -ENOMEM;
	if (err)
		goto out;
	next = !(t->cfg.active & 1);
	err = HALF_CLEAR(fd[ESPX_MAP_POLICY_HOST], struct espx_pol_host_key, next);
	if (!err)
		err = HALF_CLEAR(lpm_fd, struct espx_pol_lpm_key, next);
	if (!err)
		err = HALF_CLEAR(bin_fd, struct espx_pol_bin_key, next);
	for (dir = 0; !err && dir < ESPX_POL__MAX; dir++) {
		pol_sort(t->p[dir], t->n[dir]);
		nscan = nhost = 0;
		for (i = 0; !err && i < t->n[dir]; i++) {
			p = &t->p[dir][i];
			p->rank = i;
			pol_resolve(p, &sas);
			if (pol_is_host(p) && nhost < ESPX_MAX_HOST_POLICY) {
				p->flags |= ESPX_POL_F_HOST;
				host_key(&hk, p, next);
				if (bpf_map_update_elem(fd[ESPX_MAP_POLICY_HOST], &hk, p, BPF_ANY))
					err = -errno;
				nhost++;
				continue;
			}
			p->flags &= (__u16)~ESPX_POL_F_HOST;
			if (nscan == ESPX_MAX_POLICY) {
				pr_warn("policy table full: dir %s has more than %d policies that are not host-to-host (one source and one destination address, any protocol), the most espx scans\n",
					xp_dir_name((__u8)dir), ESPX_MAX_POLICY);
				err = -ENOSPC;
				break;
			}
			buf->sel[nscan] = p->sel;
			slot = ESPX_POL_SLOT(next, dir, nscan++);
			if (bpf_map_update_elem(fd[ESPX_MAP_POLICY], &slot, p, BPF_ANY))
				err = -errno;
		}
		if (!err)
			err = lpm_write(lpm_fd, buf->sel, nscan, next, dir, buf->lpm);
		if (!err)
			err = bin_write(bin_fd, buf->sel, nscan, next, dir, buf->bin);
		t->cfg.count[next][dir] = nscan;
		t->cfg.nhost[next][dir] = nhost;
	}
	if (!err)
		err = ike_collect(&ike, t, &sas);
	if (err) {
		if (err != -ENOSPC)
			pr_warn("writing the new policy table: %s\n", strerror(-err));
		goto out;
	}
	ike_failed = ike_begin(ike_fd, &ike);
	t->cfg.active = next;
	if (bpf_map_update_elem(fd[ESPX_MAP_CONFIG], &zero, &t->cfg, BPF_ANY)) {
		err = -errno;
		pr_warn("switching to the new policy table: %s\n", strerror(-err));
		goto out;
	}
	ike_finish(ike_fd, &ike, ike_failed);
out:
	free(buf);
	free(ike.v);
	free(sas.v);
	return err;
}

static struct pol_table *pol_alloc(void)
{
	struct pol_table *t = malloc(sizeof(*t));

	if (!t)
		pr_warn("out of memory for the policy table\n");
	return t;
}

int policy_sync(void)
{
	struct espx_dp dp;
	struct pol_table *t;
	__u32 dir, total = 0;
	int err;

	err = pol_open(&dp);
	if (err)
		return err;
	t = pol_alloc();
	err = t ? pol_read(&dp, t) : -ENOMEM;
	for (dir = 0; !err && dir < ESPX_POL__MAX; dir++)
		total += t->n[dir];
	if (!err && total)
		err = pol_commit(&dp, t);
	else if (!err)	/* no policies to switch, but the SA pairs still change */
		err = ike_refresh(&dp);
	if (err)
		pr_warn("policies were not updated for this SA change\n");
	free(t);
	espx_dp_close(&dp);
	return err;
}

/* Too many policies for the table: keep what XFRM would try first, up to
 * ESPX_MAX_POLICY scanned and ESPX_MAX_HOST_POLICY hashed ones. Out: when
 * any had to go, the last scanned slot blocks everything else, so what the
 * dropped policies protect never leaves in plaintext. In and fwd keep what
 * fits (a block-all there would drop IKE itself). *full: some were dropped. */
static __u32 pol_truncate(struct espx_policy *v, __u32 n, __u8 dir, int *full)
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

int policy_publish(const struct espx_policy *pols, size_t n)
{
	struct espx_policy *v[ESPX_POL__MAX] = { 0 };
	__u32 cnt[ESPX_POL__MAX] = { 0 }, zero = 0, dir, k;
	struct espx_dp dp;
	struct pol_table *t;
	int err = 0, full = 0;
	size_t i;

	for (dir = 0; dir < ESPX_POL__MAX; dir++) {
		v[dir] = malloc((n ? n : 1) * sizeof(*v[dir]));
		if (!v[dir])
			err = -ENOMEM;
	}
	for (i = 0; !err && i < n; i++)
		if (pols[i].dir < ESPX_POL__MAX)
			v[pols[i].dir][cnt[pols[i].dir]++] = pols[i];
	t = err ? NULL : pol_alloc();
	if (!err && !t)
		err = -ENOMEM;
	if (!err)
		err = pol_open(&dp);
	if (!err) {
		memset(t, 0, sizeof(*t));
		if (bpf_map_lookup_elem(dp.fd[ESPX_MAP_CONFIG], &zero, &t->cfg))
			err = -errno;
		for (dir = 0; !err && dir < ESPX_POL__MAX; dir++) {
			int over;

			t->n[dir] = pol_truncate(v[dir], cnt[dir], (__u8)dir, &over);
			if (over)
				pr_warn("%u %s policies, more than espx holds (%d host-to-host, %d others): %s\n",
					cnt[dir], xp_dir_name((__u8)dir), ESPX_MAX_HOST_POLICY,
					ESPX_MAX_POLICY,
					dir == ESPX_POL_OUT ? "those XFRM tries first are kept and everything else leaving is blocked (fail closed)" :
					"those XFRM tries first are enforced, the rest are not");
			full |= over;
			for (k = 0; k < t->n[dir]; k++)
				t->p[dir][k] = v[dir][k];
		}
		if (!err)
			err = pol_commit(&dp, t);
		espx_dp_close(&dp);
	}
	free(t);
	for (dir = 0; dir < ESPX_POL__MAX; dir++)
		free(v[dir]);
	return err ? err : full ? -ENOSPC : 0;
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

static int pol_insert(struct pol_table *t, struct espx_policy *p)
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

/* Run change(t, arg) on the table under the lock and publish the result. */
static int pol_change(int (*change)(struct pol_table *t, void *arg), void *arg)
{
	struct pol_table *t = NULL;
	struct espx_dp dp;
	int err, lock;

	lock = espx_lock();
	if (lock < 0)
		return -EBUSY;
	err = pol_open(&dp);
	if (!err)
		err = (t = pol_alloc()) ? pol_read(&dp, t) : -ENOMEM;
	if (!err)
		err = change(t, arg);
	if (!err)
		err = pol_commit(&dp, t);
	free(t);
	espx_dp_close(&dp);
	espx_unlock(lock);
	return err;
}

static int change_add(struct pol_table *t, void *arg)
{
	return pol_insert(t, arg);
}

static int policy_add(int argc, char **argv)
{
	struct xp_policy p;
	struct xp_err perr;

	if (xp_parse_policy_add(argc, argv, &p, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	/* configuration may come before `espx attach` */
	if (espx_load())
		return 1;
	return pol_change(change_add, &p.pol) ? 1 : 0;
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

static int change_del(struct pol_table *t, void *arg)
{
	const struct xp_policy *q = arg;
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

static int policy_del(int argc, char **argv)
{
	struct xp_policy q;
	struct xp_err perr;

	if (xp_parse_policy_del(argc, argv, &q, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	return pol_change(change_del, &q) ? 1 : 0;
}

static int change_flush(struct pol_table *t, void *arg)
{
	memset(t->n, 0, sizeof(t->n));
	return 0;
}

static int policy_flush(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[0], "ptype") && !strcmp(argv[1], "main"))
		argc = 0;
	if (argc) {
		pr_warn("policy flush: unexpected '%s'; expected nothing or ptype main\n", argv[0]);
		return 2;
	}
	return pol_change(change_flush, NULL) ? 1 : 0;
}

/* ---- listing ---- */

static void prefix_str(const __u32 a[4], __u8 family, __u8 plen, char *buf, size_t n)
{
	char s[INET6_ADDRSTRLEN];

	snprintf(buf, n, "%s/%u", xp_addr_str(a, family, s, sizeof(s)), plen);
}

static int is_icmp(__u8 proto)
{
	return proto == 1 || proto == 58;
}

static void pol_text(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	const struct espx_tmpl *t = &p->tmpl;
	char buf[INET6_ADDRSTRLEN + 8], pn[8];

	prefix_str(s->saddr, s->family, s->prefixlen_s, buf, sizeof(buf));
	printf("src %s ", buf);
	prefix_str(s->daddr, s->family, s->prefixlen_d, buf, sizeof(buf));
	printf("dst %s", buf);
	if (s->proto)
		printf(" proto %s", xp_proto_name(s->proto, pn, sizeof(pn)));
	if (s->sport_mask)
		printf(" %s %u", is_icmp(s->proto) ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		printf(" %s %u", is_icmp(s->proto) ? "code" : "dport", ntohs(s->dport));
	printf("\n\tdir %s priority %u index %u action %s ptype main\n", xp_dir_name(p->dir),
	       p->priority, p->index, p->action == ESPX_POL_BLOCK ? "block" : "allow");
	if (!(p->flags & ESPX_POL_F_TMPL))
		return;
	printf("\ttmpl");
	if (t->family && !is_zero(t->saddr))
		printf(" src %s", xp_addr_str(t->saddr, t->family, buf, sizeof(buf)));
	if (t->family && !is_zero(t->daddr))
		printf(" dst %s", xp_addr_str(t->daddr, t->family, buf, sizeof(buf)));
	printf("\n\t\tproto esp spi 0x%08x reqid %u mode %s level %s\n", ntohl(t->spi), t->reqid,
	       xp_mode_name(t->mode), t->optional ? "use" : "required");
	if (p->sa.spi)
		printf("\tsa dst %s spi 0x%08x\n",
		       xp_addr_str(p->sa.daddr, p->sa.family, buf, sizeof(buf)), ntohl(p->sa.spi));
	else
		printf("\tsa none (%s)\n", t->optional ? "level use: passed in the clear" :
		       "no usable SA: packets are dropped");
}

static void tmpl_json(struct jw *w, const struct espx_tmpl *t)
{
	char buf[INET6_ADDRSTRLEN];

	jw_obj_open(w, "tmpl");
	if (t->family && !is_zero(t->saddr))
		jw_str(w, "src", xp_addr_str(t->saddr, t->family, buf, sizeof(buf)));
	if (t->family && !is_zero(t->daddr))
		jw_str(w, "dst", xp_addr_str(t->daddr, t->family, buf, sizeof(buf)));
	jw_str(w, "proto", "esp");
	jw_u64(w, "spi", ntohl(t->spi));
	jw_u64(w, "reqid", t->reqid);
	jw_str(w, "mode", xp_mode_name(t->mode));
	jw_str(w, "level", t->optional ? "use" : "required");
	jw_obj_close(w);
}

static void pol_json(struct jw *w, const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	char buf[INET6_ADDRSTRLEN + 8], pn[8];

	jw_obj_open(w, NULL);
	jw_str(w, "family", s->family == AF_INET6 ? "inet6" : "inet");
	prefix_str(s->saddr, s->family, s->prefixlen_s, buf, sizeof(buf));
	jw_str(w, "src", buf);
	prefix_str(s->daddr, s->family, s->prefixlen_d, buf, sizeof(buf));
	jw_str(w, "dst", buf);
	jw_str(w, "proto", s->proto ? xp_proto_name(s->proto, pn, sizeof(pn)) : "any");
	if (s->sport_mask)
		jw_u64(w, is_icmp(s->proto) ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		jw_u64(w, is_icmp(s->proto) ? "code" : "dport", ntohs(s->dport));
	jw_str(w, "dir", xp_dir_name(p->dir));
	jw_u64(w, "priority", p->priority);
	jw_u64(w, "index", p->index);
	jw_str(w, "action", p->action == ESPX_POL_BLOCK ? "block" : "allow");
	if (p->flags & ESPX_POL_F_TMPL) {
		tmpl_json(w, &p->tmpl);
		/* the SA the datapath uses; spi 0: none */
		jw_obj_open(w, "sa");
		jw_u64(w, "spi", ntohl(p->sa.spi));
		jw_str(w, "dst", p->sa.spi ? xp_addr_str(p->sa.daddr, p->sa.family, buf,
							 sizeof(buf)) : "");
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static int policy_list(int argc, char **argv, int json)
{
	struct espx_dp dp;
	struct pol_table *t = NULL;
	__u32 dir, i;
	struct jw w;
	int err;

	if (argc > 0) {
		pr_warn("policy list: unexpected '%s'; it takes no filters (only -j)\n", argv[0]);
		return 2;
	}
	err = pol_open(&dp);
	if (!err)
		err = (t = pol_alloc()) ? pol_read(&dp, t) : -ENOMEM;
	if (!err) {
		jw_init(&w, stdout);
		if (json)
			jw_arr_open(&w, NULL);
		for (dir = 0; dir < ESPX_POL__MAX; dir++)
			for (i = 0; i < t->n[dir]; i++) {
				if (json)
					pol_json(&w, &t->p[dir][i]);
				else
					pol_text(&t->p[dir][i]);
			}
		if (json) {
			jw_arr_close(&w);
			jw_end(&w);
		}
	}
	free(t);
	espx_dp_close(&dp);
	return err ? 1 : 0;
}

int policy_cmd(int argc, char **argv, int json)
{
	const char *sub = argc > 1 ? argv[1] : "list";

	argc -= 2;
	argv += 2;
	if (argc < 0)
		argc = 0;
	if (!strcmp(sub, "add"))
		return policy_add(argc, argv);
	if (!strcmp(sub, "del") || !strcmp(sub, "delete"))
		return policy_del(argc, argv);
	if (!strcmp(sub, "list") || !strcmp(sub, "show"))
		return policy_list(argc, argv, json);
	if (!strcmp(sub, "flush"))
		return policy_flush(argc, argv);
	if (!strcmp(sub, "help")) {
		policy_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "update")) {
		pr_warn("policy update is not supported; delete the policy and add it again\n");
		return 2;
	}
	pr_warn("policy: unknown command '%s'; expected add, del, list or flush\n", sub);
	return 2;
}
