// SPDX-License-Identifier: GPL-2.0
/* The daemon's mirror of the kernel's XFRM database in the datapath maps:
 * dump SAs and policies, then follow NEW/UPD/DEL/FLUSH events; ENOBUFS, an
 * interrupted dump or SIGHUP -> full resync, which adds what is missing,
 * removes what is stale and keeps what is unchanged (counters and sequence
 * numbers survive a restart). A policy's hard POLEXPIRE (its time limit:
 * the kernel deletes it and sends no DELPOLICY) removes it here. Which
 * policies are published is decided in model/mirror. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <bpf/bpf.h>
#include "platform/handover.h"
#include "common/log.h"
#include "model/mirror.h"
#include "platform/lock.h"
#include "platform/pol_store.h"
#include "common/util.h"
#include "model/xfrm_parse.h"
#include "platform/pins.h"
#include "platform/xfrm_sync.h"

__u64 xsync_mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000 + (__u64)t.tv_nsec / 1000000;
}

/* The command lock for one step of work, or -1 and a retry time set. */
int xsync_lock(struct daemon *d)
{
	int lock;

	if (!d->running)
		return espx_lock();	/* start-up: the usual wait, then give up */
	lock = espx_lock_wait(LOCK_WAIT_MS, !d->lock_failing);
	if (lock < 0) {
		if (!d->lock_failing)
			pr_warn("daemon: kernel XFRM changes are held back until the lock is free (trying every %d ms)\n",
				LOCK_BACKOFF_MS + LOCK_WAIT_MS);
		d->lock_failing = 1;
		d->lock_retry = xsync_mono_ms() + LOCK_BACKOFF_MS;
		return -1;
	}
	if (d->lock_failing)
		pr_warn("daemon: the lock is free again; applying what the kernel changed meanwhile\n");
	d->lock_failing = 0;
	d->lock_retry = 0;
	return lock;
}


struct msa *xsync_msa_find(struct daemon *d, const struct espx_sa_key *key)
{
	size_t i;

	for (i = 0; i < d->nsa; i++)
		if (!memcmp(&d->sa[i].key, key, sizeof(*key)))
			return &d->sa[i];
	return NULL;
}

static struct msa *msa_add(struct daemon *d, const struct espx_sa_key *key)
{
	struct msa *m = xsync_msa_find(d, key);

	if (m)
		return m;
	if (array_grow((void **)&d->sa, &d->cap, d->nsa + 1, sizeof(*d->sa), 256))
		return NULL;
	m = &d->sa[d->nsa++];
	memset(m, 0, sizeof(*m));
	m->key = *key;
	return m;
}

static void msa_del(struct daemon *d, const struct espx_sa_key *key)
{
	struct msa *m = xsync_msa_find(d, key);

	if (m)
		*m = d->sa[--d->nsa];
}

/* "DST spi 0xSPI": an SA's identity (never key material) for messages. */
const char *xsync_sa_name(const struct espx_sa_key *id, char *buf, size_t n)
{
	char a[64];

	snprintf(buf, n, "%s spi 0x%08x", addr_str(id->daddr, id->family, a, sizeof(a)),
		 ntohl(id->spi));
	return buf;
}

/* Configuration part equal? (the key is not kept, so an SA is the same SA
 * when SPI, addresses and every parameter match) */
static int same_config(const struct espx_sa *a, const struct espx_sa *b)
{
	const __u32 cfg = ESPX_SA_F_ESN | ESPX_SA_F_ENCAP | ESPX_SA_F_NOECN |
			  ESPX_SA_F_DECAP_DSCP | ESPX_SA_F_NOPMTUDISC | ESPX_SA_F_DONT_ENCAP_DSCP;

	return (a->flags & cfg) == (b->flags & cfg) &&
	       !memcmp(a->salt, b->salt, offsetof(struct espx_sa, add_time) -
						offsetof(struct espx_sa, salt));
}

static void forget_kernel_sa(struct daemon *d, const struct espx_sa_key *key)
{
	bpf_map_delete_elem(d->dp.fd[ESPX_MAP_KERNEL_SA], key);
}

/* Remove espx's entry of an SA the kernel no longer has, and its
 * high-water mark with it, as no install can bring this SA back (a new SA
 * under the same identity has a new key). */
static void sa_drop_entry(struct daemon *d, const struct espx_sa_key *key)
{
	char name[96];

	if (!espx_sa_remove(&d->fds, key)) {
		pr_info("SA %s removed\n", xsync_sa_name(key, name, sizeof(name)));
		d->publish = 1;
	}
	if (d->fds.hwm_map > 0)
		bpf_map_delete_elem(d->fds.hwm_map, key);
	if (d->dp.fd[ESPX_MAP_SA_SPLIT] >= 0)
		bpf_map_delete_elem(d->dp.fd[ESPX_MAP_SA_SPLIT], key);
}

static int gone_find(const struct daemon *d, const struct espx_sa_key *key)
{
	size_t i;

	for (i = 0; i < d->gone.n; i++)
		if (!memcmp(&d->gone.k[i], key, sizeof(*key)))
			return (int)i;
	return -1;
}

/* An SA under the identity of one still waiting in d->gone: that entry
 * goes first, the new SA is not the old one. */
static void gone_take(struct daemon *d, const struct espx_sa_key *key)
{
	int i = gone_find(d, key);

	if (i < 0)
		return;
	sa_drop_entry(d, key);
	d->gone.k[i] = d->gone.k[--d->gone.n];
}

void xsync_flush_gone(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->gone.n; i++)
		sa_drop_entry(d, &d->gone.k[i]);
	d->gone.n = 0;
}

/* An SA the kernel has (dump, NEWSA, UPDSA): carry it or record why not. */
static int sa_apply(struct daemon *d, struct xnl_sa *s)
{
	struct espx_sa *cur = malloc(sizeof(*cur));
	struct espx_kernel_sa ks;
	struct msa *m;
	char name[96];
	int have, err = 0;

	if (!cur)
		return -ENOMEM;
	xsync_sa_name(&s->key, name, sizeof(name));
	gone_take(d, &s->key);
	have = !bpf_map_lookup_elem_flags(d->fds.sa_map, &s->key, cur, BPF_F_LOCK);
	if (s->why[0]) {
		if (bpf_map_lookup_elem(d->dp.fd[ESPX_MAP_KERNEL_SA], &s->key, &ks) || strcmp(ks.why, s->why))
			pr_warn("SA %s left to the kernel: %s\n", name, s->why);
		memset(&ks, 0, sizeof(ks));
		snprintf(ks.why, sizeof(ks.why), "%s", s->why);
		ks.reqid = s->reqid;
		ks.proto = s->proto;
		ks.mode = s->sa.mode;
		bpf_map_update_elem(d->dp.fd[ESPX_MAP_KERNEL_SA], &s->key, &ks, BPF_ANY);
		if (have) {
			espx_sa_remove(&d->fds, &s->key);
			d->publish = 1;
		}
		msa_del(d, &s->key);
		goto out;
	}
	forget_kernel_sa(d, &s->key);
	m = msa_add(d, &s->key);
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	m->add_time = s->k_add_time;
	if (!m->use_time)
		m->use_time = s->k_use_time;
	if (have && same_config(cur, &s->sa)) {
		/* unchanged (a restart, or an update of nothing espx keeps) */
		m->base_bytes = (__s64)s->k_bytes - (__s64)cur->bytes;
		m->base_packets = (__s64)s->k_packets - (__s64)cur->packets;
		m->pushed_bytes = cur->bytes;
		m->pushed_packets = cur->packets;
		goto out;
	}
	if (have) {
		/* a changed SA keeps espx's progress where it is ahead. The
		 * datapath may send on the old entry until the new one replaces
		 * it: skip numbers rather than risk sending one twice (a gap is
		 * harmless to the receiver, a repeat breaks GCM) */
		if (cur->oseq + REPLACE_GAP > s->sa.oseq)
			s->sa.oseq = cur->oseq + REPLACE_GAP;
		if (cur->seq > s->sa.seq) {
			s->sa.seq = cur->seq;
			memcpy(s->sa.replay, cur->replay, sizeof(cur->replay));
		}
		s->sa.packets = cur->packets;
		s->sa.bytes = cur->bytes;
		s->sa.use_time = cur->use_time;
	} else {
		m->base_bytes = (__s64)s->k_bytes;
		m->base_packets = (__s64)s->k_packets;
		m->pushed_bytes = m->pushed_packets = 0;
		m->soft_done = m->hard_done = 0;
	}
	s->sa.add_time = boot_ns();
	err = espx_sa_install(&d->fds, &s->key, &s->sa, s->aes_key, s->aes_key_len,
			      ESPX_AES_KERNEL, have);
	if (err) {
		pr_warn("SA %s could not be mirrored: %s; its traffic is dropped on espx devices\n",
			name, strerror(-err));
		msa_del(d, &s->key);
	} else {
		pr_info("SA %s %s (reqid %u, output from %llu)\n", name,
			have ? "updated" : "mirrored", s->reqid, (unsigned long long)s->sa.oseq);
	}
	d->publish = 1;
out:
	xnl_sa_wipe_key(s);
	free(cur);
	return err;
}

/* The kernel no longer has the SA (DELSA, a hard expire, not in a dump).
 * A carried SA's entry stays until the next publish has resolved the
 * policies without it: a rekey deletes the old outbound SA right after
 * adding the new one, often in the same batch of events, and removing the
 * entry first left the out policy pointing at nothing until the publish
 * (packets dropped as policy-without-sa). Until then the datapath may still
 * use it, going on from its own numbers; the policies are resolved without
 * it, so with no replacement they fail closed. */
static void sa_remove(struct daemon *d, const struct espx_sa_key *key)
{
	int carried = xsync_msa_find(d, key) != NULL;

	forget_kernel_sa(d, key);
	msa_del(d, key);
	if (carried && gone_find(d, key) < 0 &&
	    !array_grow((void **)&d->gone.k, &d->gone.cap, d->gone.n + 1, sizeof(*d->gone.k), 16)) {
		d->gone.k[d->gone.n++] = *key;
		d->publish = 1;
		return;
	}
	if (gone_find(d, key) < 0)
		sa_drop_entry(d, key);
}

/* --- policies ----------------------------------------------------------- */

struct mpol *xsync_pol_find(struct daemon *d, __u32 index)
{
	size_t i;

	for (i = 0; i < d->npol; i++)
		if (d->pol[i].k.pol.index == index)
			return &d->pol[i];
	return NULL;
}

static int pol_apply(struct daemon *d, const struct xnl_pol *p)
{
	struct mpol *slot = xsync_pol_find(d, p->pol.index);
	int warned = 0;

	if (p->skip)
		return 0;
	if (p->why[0] && (!slot || strcmp(slot->k.why, p->why)))
		pr_warn("policy index %u dir %s: %s; %s\n", p->pol.index, xp_dir_name(p->pol.dir),
			p->why, p->pol.dir == ESPX_POL_OUT ?
			"espx blocks what it covers on its devices (fail closed)" :
			"espx keeps its selector, but no espx SA will match its template");
	if (!slot) {
		if (array_grow((void **)&d->pol, &d->polcap, d->npol + 1, sizeof(*d->pol), 256))
			return -ENOMEM;
		slot = &d->pol[d->npol++];
	} else {
		warned = slot->warned;	/* an update is the same policy: warned once */
	}
	slot->k = *p;
	slot->warned = warned;
	d->publish = 1;
	return 0;
}

static void pol_remove(struct daemon *d, const struct espx_sel *sel, __u32 index, __u8 dir)
{
	size_t i;

	for (i = 0; i < d->npol; i++) {
		struct espx_policy *p = &d->pol[i].k.pol;

		if (index ? p->index != index : (p->dir != dir || memcmp(&p->sel, sel, sizeof(*sel))))
			continue;
		memmove(&d->pol[i], &d->pol[i + 1], (d->npol - i - 1) * sizeof(*d->pol));
		d->npol--;
		d->publish = 1;
		return;
	}
}

void xsync_rx_mark_check(struct daemon *d, int ask)
{
	int need = 0, have, err = 0, lock;
	size_t i;

	if (!d->running)
		return;		/* the devices are attached once it runs */
	for (i = 0; i < d->npol && !need; i++)
		need = xnl_pol_needs_rx_mark(&d->pol[i].k.pol);
	if (ask)
		d->rx_mark_check_ms = xsync_mono_ms();
	else if (need == d->rx_mark_on)
		return;		/* as it was: asking the kernel is for the tick */
	lock = xsync_lock(d);	/* not while a detach takes it away */
	if (lock < 0)
		return;
	if (!espx_attached_count(NULL))
		need = 0;	/* added by attach, removed with the last device */
	have = xnl_rx_mark_policy_get();
	if (have >= 0 && need != have)
		err = xnl_rx_mark_policy(need);
	espx_unlock(lock);
	if (have < 0)
		return;		/* no XFRM netlink to ask */
	if (err) {
		if (!d->rx_mark_failed++)
			pr_warn("%s espx's kernel policy for the IPv6 it decrypts (dir in, mark 0x%08x) failed: %s;%s\n",
				need ? "adding" : "removing", ESPX_RX_MARK, strerror(-err),
				need ? " the kernel's inbound check drops that IPv6 for addresses on other devices than espx's (docs/strongswan.md, \"IPv6\")" : "");
		return;
	}
	if (need != have)
		fprintf(stderr, "espx daemon: espx's kernel policy for the IPv6 it decrypts (dir in, mark 0x%08x) %s\n",
			ESPX_RX_MARK, need ? "added: an inbound IPv6 policy wants ESP" :
			"removed: no inbound IPv6 policy wants ESP");
	d->rx_mark_on = need;
	d->rx_mark_failed = 0;
}

int xsync_publish(struct daemon *d)
{
	struct espx_policy *v = calloc(d->npol ? d->npol : 1, sizeof(*v));
	unsigned char *flags = calloc(d->npol ? d->npol : 1, 1);
	int err, lock, nmixed;
	size_t i;

	if (!v || !flags) {
		free(v);
		free(flags);
		return -ENOMEM;
	}
	for (i = 0; i < d->npol; i++) {
		v[i] = d->pol[i].k.pol;
		flags[i] = d->pol[i].k.why[0] ? MIRROR_REFUSED : 0;
	}
	nmixed = (int)mirror_policies(v, d->npol, flags);
	for (i = 0; i < d->npol; i++)
		if ((flags[i] & MIRROR_MIXED) && !d->pol[i].warned++)
			pr_warn("policy index %u: its SA (reqid %u) also carries IPv6, which the kernel encrypts itself; espx blocks this IPv4 traffic rather than send on the SA beside the kernel (use separate CHILD_SAs per family)\n",
				v[i].index, v[i].tmpl.reqid);
	lock = xsync_lock(d);
	/* IPv4 traffic unblocked on an SA the kernel was sending IPv6 on
	 * meanwhile: espx continues above the kernel's numbers (a margin
	 * above, as at attach), before the first IPv4 packet can go */
	if (lock >= 0 && nmixed < d->nmixed && d->active && handover_take() < 0)
		pr_warn("taking sequence numbers over from the kernel after IPv6 left the SA failed; IPv4 stays blocked\n");
	else if (lock >= 0)
		d->nmixed = nmixed;
	err = lock < 0 ? -EBUSY : nmixed < d->nmixed ? -EAGAIN :
	      policy_publish_hiding(v, d->npol, d->gone.k, d->gone.n);
	if (lock >= 0)
		xsync_flush_gone(d);	/* the policies are off them, or fail closed */
	espx_unlock(lock);
	free(v);
	free(flags);
	if (!err || err == -ENOSPC) {
		d->publish = 0;
		xsync_rx_mark_check(d, 0);	/* the policies changed: still needed? */
	}
	return err;
}

/* --- events from the kernel --------------------------------------------- */

int xsync_on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;
	struct espx_sa_key key;
	struct xnl_pol p;
	struct espx_sel sel;
	__u32 index;
	__u8 proto, dir;
	int hard;

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		if (xnl_sa_decode(nlh, d->tmp))
			break;
		sa_apply(d, d->tmp);
		break;
	case XFRM_MSG_DELSA:
		if (!xnl_sa_id_decode(nlh, &key, &proto))
			sa_remove(d, &key);
		break;
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		if (!xnl_pol_decode(nlh, &p))
			pol_apply(d, &p);
		break;
	case XFRM_MSG_DELPOLICY:
		if (!xnl_pol_id_decode(nlh, &sel, &index, &dir))
			pol_remove(d, &sel, index, dir);
		break;
	case XFRM_MSG_EXPIRE:
		/* a hard expiry deletes the SA without a DELSA */
		if (!xnl_expire_decode(nlh, &key, &hard) && hard)
			sa_remove(d, &key);
		break;
	case XFRM_MSG_POLEXPIRE:
		/* xfrm_policy_timer(): a hard expiry has deleted the policy,
		 * and only this message says so */
		if (xnl_polexpire_decode(nlh, &index, &dir, &sel, &hard))
			break;
		if (hard) {
			pr_info("policy index %u dir %s: hard expire, the kernel deleted it\n",
				index, xp_dir_name(dir));
			pol_remove(d, &sel, index, dir);
		} else {
			pr_info("policy index %u dir %s: soft expire\n", index, xp_dir_name(dir));
		}
		break;
	case XFRM_MSG_FLUSHPOLICY:
		d->rx_mark_check_ms = 0;	/* espx's own went too: at the next tick */
		/* fall through */
	case XFRM_MSG_FLUSHSA:
		d->resync = 1;
		break;
	default:	/* ACQUIRE (the IKE daemon's), ... */
		break;
	}
	return 0;
}

/* A dump entry: apply it, and note its key for the pruning after. */
static int dump_sa_cb(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;
	struct ksa_seen *s = &d->seen;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA || xnl_sa_decode(nlh, d->tmp))
		return 0;
	if (array_grow((void **)&s->k, &s->cap, s->n + 1, sizeof(*s->k), 256))
		return -ENOMEM;
	s->k[s->n++] = d->tmp->key;
	sa_apply(d, d->tmp);
	return 0;
}

static int dump_pol_cb(const struct nlmsghdr *nlh, void *data)
{
	struct daemon *d = data;
	struct xnl_pol p;

	if (nlh->nlmsg_type == XFRM_MSG_NEWPOLICY && !xnl_pol_decode(nlh, &p))
		pol_apply(d, &p);
	return 0;
}

static int key_in(const struct ksa_seen *s, const struct espx_sa_key *k)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!memcmp(&s->k[i], k, sizeof(*k)))
			return 1;
	return 0;
}

/* Remove from map fd every key the kernel does not have. */
static void prune(struct daemon *d, int fd, const struct ksa_seen *s, int sa_map)
{
	struct espx_sa_key *keys = NULL;
	size_t n = 0, i;

	if (sa_keys_sorted(fd, &keys, &n))
		return;
	for (i = 0; i < n; i++) {
		if (key_in(s, &keys[i]))
			continue;
		if (sa_map)
			sa_remove(d, &keys[i]);
		else
			bpf_map_delete_elem(fd, &keys[i]);
	}
	free(keys);
}

/* Forget the high-water marks (and recorded splits) of SA identities
 * neither the kernel (the dump just read) nor espx has: no install can
 * bring those back, so espx_sa_hwm and espx_sa_split stay bounded. */
static void prune_hwm(struct daemon *d, int fd, const struct ksa_seen *s)
{
	struct espx_sa_key *keys = NULL;
	struct espx_sa *v;
	size_t n = 0, i;

	if (fd <= 0 || sa_keys_sorted(fd, &keys, &n))
		return;
	v = malloc(sizeof(*v));
	for (i = 0; v && i < n; i++) {
		if (key_in(s, &keys[i]) ||
		    !bpf_map_lookup_elem_flags(d->fds.sa_map, &keys[i], v, BPF_F_LOCK))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
	}
	if (v)
		wipe(v, sizeof(*v));
	free(v);
	free(keys);
}

/* Make the maps equal to the kernel's database, keeping what is unchanged. */
static int mpol_age_cmp(const void *a, const void *b)
{
	return xnl_pol_age_cmp(&((const struct mpol *)a)->k, &((const struct mpol *)b)->k);
}

int xsync_resync(struct daemon *d)
{
	struct ksa_seen *seen = &d->seen;
	int err = 0, tries, lock;

	for (tries = 0; tries < 10; tries++) {
		seen->n = 0;
		lock = xsync_lock(d);
		if (lock < 0)
			return -EBUSY;
		err = nl_dump(&d->rq, XFRM_MSG_GETSA, dump_sa_cb, d);
		if (!err) {
			prune(d, d->fds.sa_map, seen, 1);
			prune(d, d->dp.fd[ESPX_MAP_KERNEL_SA], seen, 0);
			prune_hwm(d, d->fds.hwm_map, seen);
			prune_hwm(d, d->dp.fd[ESPX_MAP_SA_SPLIT], seen);
		}
		espx_unlock(lock);
		if (err == -EINTR)
			continue;	/* the database changed during the dump */
		if (err)
			break;
		d->npol = 0;
		err = nl_dump(&d->rq, XFRM_MSG_GETPOLICY, dump_pol_cb, d);
		if (err == -EINTR)
			continue;
		break;
	}
	if (err) {
		pr_warn("reading the kernel's XFRM database: %s\n", strerror(-err));
		return err;
	}
	/* the dump lists newest first; keep the age order events give */
	if (d->npol > 1)	/* indexes are unique: the order is fully determined */
		qsort(d->pol, d->npol, sizeof(*d->pol), mpol_age_cmp);
	d->resync = 0;
	return xsync_publish(d);
}

