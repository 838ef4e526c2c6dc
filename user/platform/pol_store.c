// SPDX-License-Identifier: GPL-2.0
/* The policy table in the maps (pol_store.h).
 *
 * Every change is read-copy-update on the two halves of espx_policy: read
 * the active half, change the copy, sort it, resolve each template to an
 * SA, write the copy to the inactive half, then switch: espx_config.active
 * is a generation whose low bit names the live half. The switch is two map
 * updates: the first writes the new half's counts under the old generation
 * (a reader of the live half reads the same bytes as before), the second
 * changes nothing but the generation, so a reader never pairs one half with
 * the other's counts. A lookup still reading the half this change rewrote
 * (it began before the previous switch) sees the generation move and does
 * not trust what it read (bpf/lib/policy.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "common/log.h"
#include "common/util.h"
#include "model/pol_bin.h"
#include "model/pol_lpm.h"
#include "model/pol_table.h"
#include "model/xfrm_parse.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/pol_store.h"

/* The policy maps every change reads: espx_policy, espx_config and
 * espx_policy_hash; -errno (message printed) and nothing open if any is
 * missing. */
static int pol_open(struct espx_dp *dp)
{
	int pol, cfg, hash;

	espx_dp_init(dp);
	pol = espx_dp_fd(dp, ESPX_MAP_POLICY);
	if (pol < 0)
		return pol;
	cfg = espx_dp_fd(dp, ESPX_MAP_CONFIG);
	hash = espx_dp_fd(dp, ESPX_MAP_POLICY_HASH);
	if (cfg < 0 || hash < 0) {
		espx_dp_close(dp);
		return cfg < 0 ? cfg : hash;
	}
	return 0;
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
		struct espx_pol_hash_key k, *prev = NULL, cur;
		struct espx_policy v;

		while (!bpf_map_get_next_key(fd[ESPX_MAP_POLICY_HASH], prev, &k)) {
			cur = k;
			prev = &cur;
			if (k.half != half || k.dir >= ESPX_POL__MAX || k.seq >= ESPX_SEQ_ADDRS ||
			    t->n[k.dir] >= ESPX_POL_TABLE_MAX ||
			    bpf_map_lookup_elem(fd[ESPX_MAP_POLICY_HASH], &k, &v))
				continue;
			t->p[k.dir][t->n[k.dir]++] = v;
		}
	}
	for (dir = 0; dir < ESPX_POL__MAX; dir++)	/* back into XFRM order */
		qsort(t->p[dir], t->n[dir], sizeof(t->p[dir][0]), pol_rank_cmp);
	return 0;
}

/* Remove one half's entries (the half about to be written: out of use
 * since the last switch) from a map whose key has a __u8 half at half_off:
 * espx_policy_hash, espx_pol_lpm, espx_pol_bin. */
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

/* A hashed policy under its key, and in the summaries of its key that do
 * not yet hold one (policies come in rank order: the first one stays). */
static int hash_write(int fd, const struct espx_policy *p, __u32 half, __u32 seq)
{
	struct espx_pol_hash_key k;
	__u8 kf = pol_kflags(p);

	pol_hash_key(&k, p, half, seq);
	if (bpf_map_update_elem(fd, &k, p, BPF_ANY))
		return -errno;
	if (kf & (ESPX_PK_DPORT | ESPX_PK_SPORT)) {
		pol_hash_key(&k, p, half, ESPX_SEQ_NOPORTS);
		if (bpf_map_update_elem(fd, &k, p, BPF_NOEXIST) && errno != EEXIST)
			return -errno;
	}
	if (kf & ESPX_PK_PROTO) {
		pol_hash_key(&k, p, half, ESPX_SEQ_ADDRS);
		if (bpf_map_update_elem(fd, &k, p, BPF_NOEXIST) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* SAs to resolve templates against, leaving out those the kernel deleted */
struct sa_collect {
	struct sa_list *l;
	const struct espx_sa_key *hide;
	size_t nhide;
};

static int sa_collect(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct sa_collect *c = ctx;
	size_t i;

	for (i = 0; i < c->nhide; i++)
		if (!memcmp(&c->hide[i], key, sizeof(*key)))
			return 0;
	return sa_list_add(c->l, key, sa);
}

/* ---- espx_ike: the address pairs whose UDP 500/4500 is IKE ---- */

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

static int sa_read(struct espx_dp *dp, struct sa_list *sas, const struct espx_sa_key *hide,
		   size_t nhide)
{
	struct sa_collect c = { .l = sas, .hide = hide, .nhide = nhide };
	int sa_fd, err;

	sa_fd = espx_dp_fd(dp, ESPX_MAP_SA);
	if (sa_fd < 0)
		return sa_fd;
	err = sa_foreach(sa_fd, sa_collect, &c);
	if (err) {
		pr_warn("reading SAs to resolve policy templates: %s\n", strerror(-err));
		return err;
	}
	sa_list_sort(sas);
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
	err = sa_read(dp, &sas, NULL, 0);
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
	struct espx_sel sel[ESPX_MAX_POLICY];		/* slots' selectors */
	__u8 seq[ESPX_POL_TABLE_MAX];			/* hashed: place in its chain */
	struct pol_lpm_entry lpm[POL_LPM_ENTRIES_MAX];
	struct pol_bin_entry bin[POL_BIN_ENTRIES_MAX];
};

/* A lookup that began before a switch may still be reading the half the
 * next change clears and rewrites. It notices (the generation moved) and
 * looks again in the live half, which only a further switch during that
 * second look could spoil (then the packet is dropped as policy-changed,
 * never let out). Waiting POL_GRACE_NS after a switch before rewriting the
 * half it left makes both need a lookup that lasts that long, where one
 * takes microseconds: under SA churn (10^5 cycles, 3.4 million packets)
 * the retry alone still dropped one packet. Only commits from one process
 * (the daemon, a batch) are spaced: another process waiting for the lock
 * may commit sooner after this one's switch, and then only the retry and
 * the fail-closed drop stand between a long lookup and a wrong verdict. The pause is
 * taken before this process locks again (espx_lock_defer), not while it
 * holds the lock, where it starved another namespace's espx of the lock;
 * pol_grace() is for a second commit under one hold. */
#define POL_GRACE_NS 2000000ULL
static unsigned long long pol_last_switch;

static void pol_grace(void)
{
	unsigned long long since = boot_ns() - pol_last_switch;
	struct timespec ts;

	if (!pol_last_switch || since >= POL_GRACE_NS)
		return;
	ts.tv_sec = 0;
	ts.tv_nsec = POL_GRACE_NS - since;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Sort, resolve, write the inactive half (hashed policies and their
 * classes, slots, and the LPM and protocol/port bins of the slots), add
 * the IKE pairs,
 * switch in one write, remove stale IKE pairs. The old half stays intact
 * until the next commit, so a packet that read the old espx_config still
 * finds it. */
static int pol_commit(struct espx_dp *dp, struct pol_table *t, const struct espx_sa_key *hide,
		      size_t nhide)
{
	const int *fd = dp->fd;
	struct sa_list sas = { 0 };
	struct ike_set ike = { 0 };
	__u32 zero = 0, gen, next, dir, i, slot, nscan;
	struct commit_buf *buf = NULL;
	struct espx_policy *p;
	int lpm_fd, bin_fd = -1, ike_fd = -1, err, nhash;
	size_t ike_failed = 0;

	lpm_fd = espx_dp_fd(dp, ESPX_MAP_POL_LPM);
	if (lpm_fd < 0)
		return lpm_fd;
	bin_fd = espx_dp_fd(dp, ESPX_MAP_POL_BIN);
	if (bin_fd < 0)
		return bin_fd;
	ike_fd = espx_dp_fd(dp, ESPX_MAP_IKE);
	err = ike_fd < 0 ? ike_fd : sa_read(dp, &sas, hide, nhide);
	if (!err && !(buf = malloc(sizeof(*buf))))
		err = -ENOMEM;
	if (err)
		goto out;
	gen = t->cfg.active + 1;
	next = gen & 1;
	pol_grace();
	err = HALF_CLEAR(fd[ESPX_MAP_POLICY_HASH], struct espx_pol_hash_key, next);
	if (!err)
		err = HALF_CLEAR(lpm_fd, struct espx_pol_lpm_key, next);
	if (!err)
		err = HALF_CLEAR(bin_fd, struct espx_pol_bin_key, next);
	for (dir = 0; !err && dir < ESPX_POL__MAX; dir++) {
		pol_sort(t->p[dir], t->n[dir]);
		for (i = 0; i < t->n[dir]; i++)
			t->p[dir][i].rank = i;
		nhash = pol_place(t->p[dir], t->n[dir], buf->seq, t->cfg.ncls[next][dir],
				  t->cfg.cls[next][dir]);
		if (nhash < 0) {
			err = nhash;
			break;
		}
		nscan = 0;
		for (i = 0; !err && i < t->n[dir]; i++) {
			p = &t->p[dir][i];
			pol_resolve(p, &sas);
			if (p->flags & ESPX_POL_F_HASH) {
				err = hash_write(fd[ESPX_MAP_POLICY_HASH], p, next, buf->seq[i]);
				continue;
			}
			if (nscan == ESPX_MAX_POLICY) {
				pr_warn("policy table full: dir %s has more than %d policies that cannot be hashed (address family any, more than %d pairs of prefix lengths per family, or more than %d policies with the same source and destination prefixes), the most espx scans\n",
					xp_dir_name((__u8)dir), ESPX_MAX_POLICY, ESPX_POL_CLASSES,
					ESPX_POL_DEPTH);
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
		t->cfg.nhash[next][dir] = (__u32)nhash;
	}
	if (!err)
		err = ike_collect(&ike, t, &sas);
	if (err) {
		if (err != -ENOSPC)
			pr_warn("writing the new policy table: %s\n", strerror(-err));
		goto out;
	}
	ike_failed = ike_begin(ike_fd, &ike);
	/* the new half's counts first, under the old generation; then the
	 * generation alone */
	if (bpf_map_update_elem(fd[ESPX_MAP_CONFIG], &zero, &t->cfg, BPF_ANY) ||
	    (t->cfg.active = gen, bpf_map_update_elem(fd[ESPX_MAP_CONFIG], &zero, &t->cfg, BPF_ANY))) {
		err = -errno;
		pr_warn("switching to the new policy table: %s\n", strerror(-err));
		goto out;
	}
	pol_last_switch = boot_ns();
	espx_lock_defer(POL_GRACE_NS);
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
		err = pol_commit(&dp, t, NULL, 0);
	else if (!err)	/* no policies to switch, but the SA pairs still change */
		err = ike_refresh(&dp);
	if (err)
		pr_warn("policies were not updated for this SA change\n");
	free(t);
	espx_dp_close(&dp);
	return err;
}

int policy_publish(const struct espx_policy *pols, size_t n)
{
	return policy_publish_hiding(pols, n, NULL, 0);
}

int policy_publish_hiding(const struct espx_policy *pols, size_t n,
			  const struct espx_sa_key *hide, size_t nhide)
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
				pr_warn("%u %s policies, more than espx holds (%d hashed; %d others: family any, beyond %d classes of prefix lengths per family, or beyond %d with one key): %s\n",
					cnt[dir], xp_dir_name((__u8)dir), ESPX_MAX_HASH_POLICY,
					ESPX_MAX_POLICY, ESPX_POL_CLASSES, ESPX_POL_DEPTH,
					dir == ESPX_POL_OUT ? "those XFRM tries first are kept and everything else leaving is blocked (fail closed)" :
					"those XFRM tries first are enforced, the rest are not");
			full |= over;
			for (k = 0; k < t->n[dir]; k++)
				t->p[dir][k] = v[dir][k];
		}
		if (!err)
			err = pol_commit(&dp, t, hide, nhide);
		espx_dp_close(&dp);
	}
	free(t);
	for (dir = 0; dir < ESPX_POL__MAX; dir++)
		free(v[dir]);
	return err ? err : full ? -ENOSPC : 0;
}

/* Run change(t, arg) on the table under the lock and publish the result. */
int policy_read(struct pol_table **t)
{
	struct espx_dp dp;
	int err;

	*t = NULL;
	err = pol_open(&dp);
	if (!err)
		err = (*t = pol_alloc()) ? pol_read(&dp, *t) : -ENOMEM;
	espx_dp_close(&dp);
	return err;
}

int policy_change(int (*change)(struct pol_table *t, void *arg), void *arg)
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
		err = pol_commit(&dp, t, NULL, 0);
	free(t);
	espx_dp_close(&dp);
	espx_unlock(lock);
	return err;
}
