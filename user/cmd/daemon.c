// SPDX-License-Identifier: GPL-2.0
/* `espx daemon`: mirror the kernel's XFRM database into the datapath maps
 * and do what a packet-offload driver owes the kernel.
 *
 *  sync:      dump SAs and policies, then follow NEW/UPD/DEL/FLUSH events;
 *             ENOBUFS, an interrupted dump or SIGHUP -> full resync, which
 *             adds what is missing, removes what is stale and keeps what is
 *             unchanged (counters and sequence numbers survive a restart).
 *  counters:  every interval, NEWAE with each SA's bytes/packets/use time.
 *  expiries:  soft/hard byte and packet limits (the datapath's events, and
 *             its SA flags as a fallback) -> XFRM_MSG_EXPIRE; on hard, the
 *             kernel deletes the SA and DELSA removes it here. A policy's
 *             hard POLEXPIRE (its time limit: the kernel deletes it and
 *             sends no DELPOLICY) removes it here.
 *  acquire:   the datapath's ACQUIRE reports (outbound traffic on a policy
 *             without SA, which disable_xfrm hides from the kernel) ->
 *             XFRM_MSG_ACQUIRE, which the kernel passes to the IKE daemon
 *             as its own: on-demand (trap) tunnels come up.
 *  heartbeat: at start and every interval, a timestamp and its pid in the
 *             pinned espx_daemon map (heartbeat.h), cleared on a clean
 *             stop: `espx status` tells running, stale (killed or stuck:
 *             kernel changes are not mirrored meanwhile) and none apart.
 *  stop:      SIGTERM/SIGINT: detach the devices it attached, each detach
 *             handing sequence numbers back to the kernel (handover.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "platform/transition.h"
#include "cmd/daemon.h"
#include "platform/handover.h"
#include "platform/heartbeat.h"
#include "espx_event.h"
#include "common/log.h"
#include "model/mirror.h"
#include "model/sa_table.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/pins.h"
#include "platform/pol_store.h"
#include "platform/sa_install.h"
#include "common/util.h"
#include "platform/xfrm_nl.h"
#include "model/xfrm_parse.h"

#define MAX_DEVS	16
#define REPLACE_GAP	65536	/* numbers skipped when an SA is replaced in place */
#define GRP(g)		(1U << ((g) - 1))
/* The command lock (lock.h) is taken for each step of work. Once running,
 * the daemon waits for it this long, then leaves that step (and the event
 * socket unread) for LOCK_BACKOFF_MS: never blocked for long, never spinning
 * on a lock someone else holds. Counters and expiries go on meanwhile. */
#define LOCK_WAIT_MS	2000
#define LOCK_BACKOFF_MS	1000

/* One SA espx carries for the kernel. */
struct msa {
	struct espx_sa_key key;
	__s64 base_bytes, base_packets;	/* the kernel's own share of curlft */
	__u64 add_time, use_time;	/* the kernel's, seconds since the epoch */
	__u64 pushed_bytes, pushed_packets;
	__u64 pushed_oseq, pushed_seq;	/* sequence state last given to the kernel */
	__u64 k_oseq;			/* the kernel's oseq as espx last left it */
	int k_seen;			/* k_oseq holds a look at the kernel's */
	__u64 hwm_noted;		/* oseq last written to espx_sa_hwm */
	int kernel_sends;		/* the kernel numbers on it itself: leave its oseq */
	int soft_done, hard_done;
	__u64 split_k, split_at;	/* the kernel's oseq at the last split look, and the jump then */
	int split_seen, split_ended;
};

/* A kernel policy as the daemon mirrors it. */
struct mpol {
	struct xnl_pol k;
	int warned;			/* mixed-family warning logged */
};

struct daemon {
	struct nl ev, rq;
	struct espx_dp dp;		/* the pinned objects, open while it runs */
	struct espx_sa_fds fds;		/* the installer's view of dp */
	int hb_fd;			/* espx_daemon: the heartbeat; -1 none */
	struct espx_daemon_hb hb;
	struct ring_buffer *rb;
	struct msa *sa;
	size_t nsa, cap;
	struct mpol *pol;		/* the kernel's policies, in age order (the
					 * kernel's: oldest first, xnl_pol_age_cmp) */
	size_t npol, polcap;
	int interval_ms;
	int rcvbuf;			/* event socket buffer, bytes (0: default) */
	const char *dev[MAX_DEVS];
	int ndev, attached[MAX_DEVS];
	int active;			/* espx links exist: espx carries traffic */
	int nattached;			/* espx's attached devices at the last tick */
	int split;			/* a device was detached while espx kept
					 * sending elsewhere: the kernel numbers below
					 * espx's jump, its oseq is left alone */
	int resync, publish;
	int nmixed;			/* IPv4 policies blocked at the last publish
					 * because the kernel sends IPv6 on their SA */
	int running;			/* past start-up: lock waits are short */
	int lock_failing;		/* the last try for the lock failed */
	__u64 lock_retry;		/* CLOCK_MONOTONIC ms of the next try; 0: now */
	struct xnl_sa *tmp;		/* one decoded SA (large: no stack) */
	int sfd, tfd;			/* signalfd, timerfd; -1 none */
	struct ksa_seen {
		struct espx_sa_key *k;
		size_t n, cap;
	} seen;				/* keys the last dump had */
};

static __u64 mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000 + (__u64)t.tv_nsec / 1000000;
}

/* The command lock for one step of work, or -1 and a retry time set. */
static int daemon_lock(struct daemon *d)
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
		d->lock_retry = mono_ms() + LOCK_BACKOFF_MS;
		return -1;
	}
	if (d->lock_failing)
		pr_warn("daemon: the lock is free again; applying what the kernel changed meanwhile\n");
	d->lock_failing = 0;
	d->lock_retry = 0;
	return lock;
}

static struct msa *msa_find(struct daemon *d, const struct espx_sa_key *key)
{
	size_t i;

	for (i = 0; i < d->nsa; i++)
		if (!memcmp(&d->sa[i].key, key, sizeof(*key)))
			return &d->sa[i];
	return NULL;
}

static struct msa *msa_add(struct daemon *d, const struct espx_sa_key *key)
{
	struct msa *m = msa_find(d, key);

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
	struct msa *m = msa_find(d, key);

	if (m)
		*m = d->sa[--d->nsa];
}

/* "DST spi 0xSPI": an SA's identity (never key material) for messages. */
static const char *sa_name(const struct espx_sa_key *id, char *buf, size_t n)
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
	sa_name(&s->key, name, sizeof(name));
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

/* The kernel no longer has the SA (DELSA, a hard expire, not in a dump):
 * remove espx's copy, and its high-water mark with it, as no install can
 * bring this SA back (a new SA under the same identity has a new key). */
static void sa_remove(struct daemon *d, const struct espx_sa_key *key)
{
	char name[96];

	forget_kernel_sa(d, key);
	msa_del(d, key);
	if (!espx_sa_remove(&d->fds, key)) {
		pr_info("SA %s removed\n", sa_name(key, name, sizeof(name)));
		d->publish = 1;
	}
	if (d->fds.hwm_map > 0)
		bpf_map_delete_elem(d->fds.hwm_map, key);
	if (d->dp.fd[ESPX_MAP_SA_SPLIT] >= 0)
		bpf_map_delete_elem(d->dp.fd[ESPX_MAP_SA_SPLIT], key);
}

/* --- policies ----------------------------------------------------------- */

static struct mpol *pol_find(struct daemon *d, __u32 index)
{
	size_t i;

	for (i = 0; i < d->npol; i++)
		if (d->pol[i].k.pol.index == index)
			return &d->pol[i];
	return NULL;
}

static int pol_apply(struct daemon *d, const struct xnl_pol *p)
{
	struct mpol *slot = pol_find(d, p->pol.index);
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

static int publish(struct daemon *d)
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
	lock = daemon_lock(d);
	/* IPv4 traffic unblocked on an SA the kernel was sending IPv6 on
	 * meanwhile: espx continues above the kernel's numbers (a margin
	 * above, as at attach), before the first IPv4 packet can go */
	if (lock >= 0 && nmixed < d->nmixed && d->active && handover_take() < 0)
		pr_warn("taking sequence numbers over from the kernel after IPv6 left the SA failed; IPv4 stays blocked\n");
	else if (lock >= 0)
		d->nmixed = nmixed;
	err = lock < 0 ? -EBUSY : nmixed < d->nmixed ? -EAGAIN : policy_publish(v, d->npol);
	espx_unlock(lock);
	free(v);
	free(flags);
	if (!err || err == -ENOSPC)
		d->publish = 0;
	return err;
}

/* --- events from the kernel --------------------------------------------- */

static int on_msg(const struct nlmsghdr *nlh, void *data)
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
	case XFRM_MSG_FLUSHSA:
	case XFRM_MSG_FLUSHPOLICY:
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

static int resync(struct daemon *d)
{
	struct ksa_seen *seen = &d->seen;
	int err = 0, tries, lock;

	for (tries = 0; tries < 10; tries++) {
		seen->n = 0;
		lock = daemon_lock(d);
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
	return publish(d);
}

/* --- counters and expiries ---------------------------------------------- */

static __u64 wall_secs_of(__u64 boot)
{
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	return (__u64)rt.tv_sec - (boot_ns() - boot) / 1000000000ULL;
}

/* Should this interval's NEWAE carry espx's output number and window?
 * Only while espx alone numbers on the SA: after a split detach the kernel
 * sends below espx's jump, and an oseq that moved without espx means the
 * kernel sends on it too (another device); raising it then would send the
 * kernel into numbers espx uses. ae: the kernel's state (GETAE). */
static int seq_push_ok(struct daemon *d, struct msa *m, const struct xnl_ae *ae)
{
	char name[96];

	if (d->split || m->kernel_sends)
		return 0;
	/* first look (after start or attach): only note where the kernel is;
	 * a number is pushed once it has been seen standing still, so a
	 * kernel that still sends is never set back to a number it passed */
	if (!m->k_seen) {
		m->k_oseq = ae->oseq;
		m->k_seen = 1;
		return 0;
	}
	if (ae->oseq != m->k_oseq) {
		m->kernel_sends = 1;
		pr_warn("SA %s: the kernel numbers on it too (its output number moved from %llu to %llu); espx stops raising the kernel's number for it\n",
			sa_name(&m->key, name, sizeof(name)), (unsigned long long)m->k_oseq,
			(unsigned long long)ae->oseq);
		return 0;
	}
	return 1;
}

/* seq: the command lock is held (no attach, detach or unload runs), so
 * the output number and window may go to the kernel too */
static void push_one(struct daemon *d, struct msa *m, const struct espx_sa *sa, int force,
		     int seq)
{
	struct xnl_ae ae = { 0 };
	int replay = 0;
	char name[96];
	int err;

	if (!force && sa->bytes == m->pushed_bytes && sa->packets == m->pushed_packets &&
	    sa->oseq == m->pushed_oseq && sa->seq == m->pushed_seq)
		return;
	/* the output number and window too, so the kernel's copy is at most
	 * one interval behind: a fresh install from it (after a delete, a
	 * failed replace, a crash) and a hand-back start near espx's numbers.
	 * Never lowering the kernel's (max); the window in the kernel's own
	 * layout (the GETAE answer says which). */
	if (seq && (sa->oseq != m->pushed_oseq || sa->seq != m->pushed_seq || force) &&
	    !xnl_getae(&d->rq, &m->key, &ae) && seq_push_ok(d, m, &ae)) {
		if (sa->oseq > ae.oseq)
			ae.oseq = sa->oseq;
		if (sa->seq > ae.seq)
			xnl_window_from_espx(&ae, sa->seq, sa->replay);
		replay = 1;
	}
	if (!m->use_time && sa->use_time)
		m->use_time = wall_secs_of(sa->use_time);
	ae.bytes = (__u64)(m->base_bytes + (__s64)sa->bytes);
	ae.packets = (__u64)(m->base_packets + (__s64)sa->packets);
	ae.add_time = m->add_time;
	ae.use_time = m->use_time;
	err = xnl_newae(&d->rq, &m->key, &ae, replay);
	if (err && err != -ENOENT && err != -ESRCH)
		pr_warn("SA %s: reporting counters (NEWAE): %s\n",
			sa_name(&m->key, name, sizeof(name)), strerror(-err));
	if (!err) {
		m->pushed_bytes = sa->bytes;
		m->pushed_packets = sa->packets;
		if (replay) {
			m->pushed_oseq = sa->oseq;
			m->pushed_seq = sa->seq;
			m->k_oseq = ae.oseq;
		}
	}
}

static void expire_one(struct daemon *d, struct msa *m, const struct espx_sa *sa)
{
	char name[96];
	int err;

	if ((sa->flags & ESPX_SA_F_SOFT_SENT) && !m->soft_done) {
		m->soft_done = 1;
		err = xnl_expire(&d->rq, &m->key, 0);
		pr_info("SA %s: soft limit reached, told the kernel%s\n",
			sa_name(&m->key, name, sizeof(name)), err ? " (failed)" : "");
	}
	if ((sa->flags & ESPX_SA_F_HARD_SENT) && !m->hard_done) {
		m->hard_done = 1;
		d->publish = 1;	/* policies stop pointing at it now */
		err = xnl_expire(&d->rq, &m->key, 1);
		pr_info("SA %s: hard limit reached, told the kernel%s\n",
			sa_name(&m->key, name, sizeof(name)), err ? " (failed)" : "");
	}
}

/* A split SA without ESN: the kernel numbers below espx's jump and nothing
 * in the kernel stops it there (handover.c). The soft expire sent at the
 * split asked for a rekey; if the kernel's share runs out first, the SA is
 * ended as a hard limit ends it (EXPIRE hard: the kernel deletes it and
 * tells the IKE daemon; the EXPIRE then removes it from espx): traffic
 * stops until a new SA, no number is sent twice. */
static void split_watch(struct daemon *d, struct msa *m, const struct espx_sa *sa)
{
	struct xnl_ae ae;
	__u64 at, step;
	char name[96];
	int err;

	if (!d->split || m->split_ended || (sa->flags & ESPX_SA_F_ESN) || d->dp.fd[ESPX_MAP_SA_SPLIT] < 0 ||
	    bpf_map_lookup_elem(d->dp.fd[ESPX_MAP_SA_SPLIT], &m->key, &at) || xnl_getae(&d->rq, &m->key, &ae))
		return;
	/* the rate from two looks under the same jump: a new split (detach
	 * after a re-attach) hands the kernel a new, higher number, which is
	 * not the kernel sending */
	if (at != m->split_at)
		m->split_seen = 0;
	step = m->split_seen && ae.oseq > m->split_k ? ae.oseq - m->split_k : 0;
	m->split_k = ae.oseq;
	m->split_at = at;
	m->split_seen = 1;
	if (!handover_split_exhausted(at, ae.oseq, step))
		return;
	m->split_ended = 1;
	err = xnl_expire(&d->rq, &m->key, 1);
	pr_warn("SA %s: no ESN, and the kernel's share of its numbers (below %llu, espx above) is nearly used (the kernel's at %llu): %s\n",
		sa_name(&m->key, name, sizeof(name)), (unsigned long long)at,
		(unsigned long long)ae.oseq,
		err ? "ending it (hard expire) failed; delete it now" :
		"ended it (hard expire) as a hard limit would; the IKE daemon negotiates a new one");
}

static void tick_one(struct daemon *d, struct msa *m, struct espx_sa *buf, int force,
		     int hwm_lock)
{
	if (bpf_map_lookup_elem_flags(d->fds.sa_map, &m->key, buf, BPF_F_LOCK))
		return;
	/* the high-water mark as of now (deletes record the exact one; this
	 * covers an entry that goes some other way) */
	if (hwm_lock >= 0 && d->fds.hwm_map > 0 && buf->oseq != m->hwm_noted &&
	    !espx_hwm_note(d->fds.hwm_map, &m->key, buf->oseq))
		m->hwm_noted = buf->oseq;
	push_one(d, m, buf, force, hwm_lock >= 0);
	expire_one(d, m, buf);
	split_watch(d, m, buf);
}


/* espx started carrying traffic (attach): the kernel's counters grew
 * meanwhile, take them as the new base. */
static void rebase(struct daemon *d, struct espx_sa *buf)
{
	struct xnl_ae ae;
	size_t i;

	for (i = 0; i < d->nsa; i++) {
		struct msa *m = &d->sa[i];

		if (xnl_getae(&d->rq, &m->key, &ae) ||
		    bpf_map_lookup_elem_flags(d->fds.sa_map, &m->key, buf, BPF_F_LOCK))
			continue;
		m->base_bytes = (__s64)ae.bytes - (__s64)buf->bytes;
		m->base_packets = (__s64)ae.packets - (__s64)buf->packets;
		m->pushed_bytes = buf->bytes;
		m->pushed_packets = buf->packets;
		m->k_seen = 0;	/* the kernel numbered meanwhile: not a second sender */
		m->pushed_oseq = m->pushed_seq = 0;
		if (ae.use_time)
			m->use_time = ae.use_time;
	}
}

/* A detach split the numbers: seen now (n devices, fewer than at the last
 * tick), or recorded in espx_sa_split by a detach before this daemon ran
 * or since the last look (a restart must not forget it). */
static void split_check(struct daemon *d, int n)
{
	struct espx_sa_key k;

	if (d->split || (n >= d->nattached &&
			 (d->dp.fd[ESPX_MAP_SA_SPLIT] < 0 || bpf_map_get_next_key(d->dp.fd[ESPX_MAP_SA_SPLIT], NULL, &k))))
		return;
	d->split = 1;
	pr_warn("daemon: a device was detached while espx still sends on others; the kernel's output numbers are left below espx's from now on\n");
}

static void tick(struct daemon *d, int force)
{
	struct espx_sa *buf = malloc(sizeof(*buf));
	int n = espx_attached_count(NULL), active = n > 0, lock = -1;
	size_t i;

	if (!buf)
		return;
	if (active && !d->active)
		rebase(d, buf);
	if (!active)
		d->split = 0;	/* all handed back: the kernel has it all */
	else
		split_check(d, n);
	d->nattached = n;
	d->active = active;
	/* espx_sa_hwm and the kernel's output numbers are written under the
	 * command lock (read-modify-write; no transition may run meanwhile:
	 * a hand-back racing a push could set the kernel back); busy: next
	 * interval, counters only */
	if (active) {
		lock = espx_lock_wait(0, 0);
		if (lock >= 0 && espx_attached_count(NULL) == 0) {
			espx_unlock(lock);	/* detached meanwhile */
			lock = -1;
		}
		/* a partial detach may have run between the look above and
		 * the lock: pushed now, espx's number would go to the kernel */
		if (lock >= 0)
			split_check(d, d->nattached);
	}
	/* detached: the kernel carries the traffic and counts it itself */
	for (i = 0; active && i < d->nsa; i++)
		tick_one(d, &d->sa[i], buf, force, lock);
	espx_unlock(lock);
	wipe(buf, sizeof(*buf));
	free(buf);
}

/* The datapath dropped outbound traffic on a policy without SA: ask for
 * one, as the kernel's output path would (the datapath reports a
 * (policy, destination) at most once a second). Only for policies the
 * kernel has: the IKE daemon knows no other. */
static void acquire_one(struct daemon *d, const struct espx_acquire_event *ev)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	const struct mpol *m = pol_find(d, ev->index);
	const struct xnl_pol *p = m ? &m->k : NULL;
	int err;

	addr_str(ev->saddr, ev->family, src, sizeof(src));
	addr_str(ev->daddr, ev->family, dst, sizeof(dst));
	if (!p || p->pol.dir != ESPX_POL_OUT) {
		pr_debug("acquire %s -> %s: policy index %u is not the kernel's (any more); not asked\n",
			 src, dst, ev->index);
		return;
	}
	err = xnl_acquire(&d->rq, ev);
	if (err)
		pr_warn("acquire %s -> %s (policy index %u, reqid %u): the kernel refused XFRM_MSG_ACQUIRE: %s\n",
			src, dst, ev->index, ev->tmpl.reqid, strerror(-err));
	else
		pr_info("acquire %s -> %s: policy index %u, reqid %u: asked the IKE daemon for an SA\n",
			src, dst, ev->index, ev->tmpl.reqid);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct espx_event *e = data;
	struct daemon *d = ctx;
	struct espx_sa *buf;
	struct msa *m;

	/* every event starts with its type (espx_event.h) */
	if (len >= sizeof(struct espx_acquire_event) && e->type == ESPX_EV_ACQUIRE) {
		acquire_one(d, data);
		return 0;
	}
	if (len < sizeof(*e) || (e->type != ESPX_EV_SOFT && e->type != ESPX_EV_HARD) ||
	    !(m = msa_find(d, &e->sa)))
		return 0;
	buf = malloc(sizeof(*buf));
	if (!buf)
		return 0;
	/* counters first, so the kernel's curlft is past the limit it hears of */
	tick_one(d, m, buf, 1, -1);
	wipe(buf, sizeof(*buf));
	free(buf);
	return 0;
}

/* --- the loop ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: espx daemon [ --interval MS ] [ --rcvbuf BYTES ] [ dev DEV ]...\n"
		"Mirror the kernel's XFRM SAs and policies (as an IKE daemon programs them)\n"
		"into espx, attach to each DEV, report counters and expiries to the kernel.\n"
		"Runs in the foreground; SIGTERM or Ctrl-C detaches and hands the SAs back to\n"
		"the kernel; SIGHUP resyncs. Needs a kernel with ESP (xfrm_user).\n"
		"  --interval MS   how often counters go to the kernel (default 1000)\n"
		"  --rcvbuf BYTES  event socket buffer (default 8 MiB); when it overflows\n"
		"                  (ENOBUFS) the daemon resyncs everything\n");
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	int i;
	char *end;

	d->interval_ms = 1000;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 10 || v > 3600000) {
				pr_warn("daemon: --interval '%s': milliseconds from 10 to 3600000\n", argv[i]);
				return 2;
			}
			d->interval_ms = (int)v;
		} else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 4096 || v > (1L << 30)) {
				pr_warn("daemon: --rcvbuf '%s': bytes from 4096 to 1073741824\n", argv[i]);
				return 2;
			}
			d->rcvbuf = (int)v;
		} else if (!strcmp(argv[i], "dev") && i + 1 < argc) {
			if (d->ndev == MAX_DEVS) {
				pr_warn("daemon: at most %d devices\n", MAX_DEVS);
				return 2;
			}
			if (!if_nametoindex(argv[++i])) {
				pr_warn("daemon: no device named '%s' in this network namespace\n", argv[i]);
				return 2;
			}
			d->dev[d->ndev++] = argv[i];
		} else {
			pr_warn("daemon: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int open_maps(struct daemon *d)
{
	static const enum espx_obj need[] = {
		ESPX_MAP_SA, ESPX_MAP_SA_SETUP, ESPX_PROG_SA_CRYPTO_INIT, ESPX_PROG_SA_GHASH_INIT,
		ESPX_MAP_KERNEL_SA, ESPX_MAP_SA_HWM, ESPX_MAP_SA_SPLIT,
	};
	struct espx_dp *dp = &d->dp;
	int missing = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(need); i++)
		missing |= espx_dp_fd(dp, need[i]) < 0;
	if (missing) {
		pr_warn("daemon: the pinned datapath is incomplete; run 'espx unload' and start again\n");
		return -ENOENT;
	}
	d->fds = (struct espx_sa_fds){
		.sa_map = dp->fd[ESPX_MAP_SA],
		.setup_map = dp->fd[ESPX_MAP_SA_SETUP],
		.crypto_init_prog = dp->fd[ESPX_PROG_SA_CRYPTO_INIT],
		.ghash_init_prog = dp->fd[ESPX_PROG_SA_GHASH_INIT],
		.hwm_map = dp->fd[ESPX_MAP_SA_HWM],
	};
	return 0;
}

/* Tell `espx status` this daemon is alive (clear: it stopped cleanly). A
 * failed write is said once; the daemon's work does not depend on it. */
static void heartbeat(struct daemon *d, int clear)
{
	static int warned;
	int err;

	if (d->hb_fd < 0)
		return;
	d->hb.beat_ns = clear ? 0 : boot_ns();
	err = hb_write(d->hb_fd, &d->hb);
	if (err && !warned) {
		warned = 1;
		pr_warn("daemon: writing the heartbeat for 'espx status': %s\n", strerror(-err));
	}
}

static void heartbeat_open(struct daemon *d)
{
	d->hb_fd = hb_open();
	if (d->hb_fd < 0) {
		pr_warn("daemon: no espx_daemon map (%s): 'espx status' will not see this daemon\n",
			strerror(-d->hb_fd));
		return;
	}
	d->hb.pid = (__u32)getpid();
	d->hb.proc_start = hb_proc_start(getpid());
	d->hb.interval_ms = (__u32)d->interval_ms;
	d->hb.start_ns = boot_ns();
	heartbeat(d, 0);
}

static int dev_attached(const char *ifname)
{
	char path[512];

	espx_link_pin_path(path, sizeof(path), ifname, "tc");
	return !access(path, F_OK);
}

/* One daemon per network namespace: a second would fight the first over
 * the maps. The lock dies with the process (kill -9 included). It lives in
 * the root-only run directory (lock.h): no other user can hold it. */
static int one_daemon(void)
{
	const char *root = strrchr(espx_pin_root(), '/');
	char name[128], comm[32];
	int fd, pid;

	snprintf(name, sizeof(name), "%s.daemon", root ? root + 1 : "espx");
	fd = espx_run_open(name, O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		pid = espx_lock_holder(fd, comm, sizeof(comm));
		if (pid)
			pr_warn("daemon: another espx daemon runs in this network namespace (pid %d, %s, holds %s/%s)\n",
				pid, comm[0] ? comm : "?", ESPX_RUN_DIR, name);
		else
			pr_warn("daemon: another espx daemon runs in this network namespace (%s/%s is locked)\n",
				ESPX_RUN_DIR, name);
		close(fd);
		return -EBUSY;
	}
	return fd;	/* kept open until exit */
}

/* Everything the daemon holds, empty: daemon_stop() may run on it at any
 * point of daemon_start(). NULL if out of memory. */
static struct daemon *daemon_new(void)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->tmp = calloc(1, sizeof(*d->tmp));
	if (!d->tmp) {
		free(d);
		return NULL;
	}
	d->hb_fd = -1;
	d->sfd = -1;
	d->tfd = -1;
	espx_dp_init(&d->dp);
	return d;
}

/* Netlink, the datapath, the first sync, the devices, signals and the
 * timer. 0, or -1 after saying what failed. */
static int daemon_start(struct daemon *d)
{
	struct itimerspec its = { 0 };
	sigset_t mask;
	int err, i;

	if (xnl_open(&d->ev, GRP(XFRMNLGRP_SA) | GRP(XFRMNLGRP_POLICY) | GRP(XFRMNLGRP_EXPIRE),
		     d->rcvbuf) ||
	    xnl_open(&d->rq, 0, 0)) {
		pr_warn("daemon: cannot open XFRM netlink (%s); the daemon needs a kernel with xfrm_user (modprobe xfrm_user); without kernel ESP use 'espx state add' instead\n",
			strerror(errno));
		return -1;
	}
	if (espx_load() || open_maps(d))
		return -1;
	heartbeat_open(d);	/* before the first sync, which may take a while */
	d->rb = ring_buffer__new(espx_obj_open(ESPX_MAP_EVENTS), on_event, d, NULL);
	if (!d->rb) {
		pr_warn("daemon: opening the event ring buffer: %s\n", strerror(errno));
		return -1;
	}
	/* subscribed before the dump: nothing that changes meanwhile is lost */
	err = resync(d);
	if (err && err != -ENOSPC)
		return -1;
	/* the devices are the daemon's: attached now (or still, after a
	 * crash) and detached when it stops */
	for (i = 0; i < d->ndev; i++) {
		if (!dev_attached(d->dev[i]) && espx_attach(d->dev[i], ESPX_XDP_AUTO))
			return -1;
		d->attached[i] = 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	its.it_interval.tv_sec = d->interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(d->interval_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (d->sfd < 0 || d->tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL)) {
		pr_warn("daemon: signalfd/timerfd: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Until SIGTERM or SIGINT: kernel events, datapath events, the timer's
 * tick, SIGHUP's resync. */
static void daemon_loop(struct daemon *d)
{
	struct pollfd pfd[4];
	int err, stop = 0;

	tick(d, 0);
	d->running = 1;
	fprintf(stderr, "espx daemon: ready: %zu SAs carried, %zu policies, interval %d ms\n",
		d->nsa, d->npol, d->interval_ms);
	pfd[0] = (struct pollfd){ .fd = nl_fd(&d->ev), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = ring_buffer__epoll_fd(d->rb), .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = d->tfd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
	while (!stop) {
		int timeout = -1;

		pfd[0].fd = nl_fd(&d->ev);
		if (d->lock_retry) {
			__u64 now = mono_ms();

			if (now < d->lock_retry) {
				/* events wait in the socket (ENOBUFS: resync later) */
				pfd[0].fd = -1;
				timeout = (int)(d->lock_retry - now);
			} else {
				d->lock_retry = 0;
			}
		}
		if (poll(pfd, 4, timeout) < 0) {
			if (errno != EINTR)
				break;
			continue;
		}
		if (pfd[0].revents) {
			int lock = daemon_lock(d);

			err = lock < 0 ? -EBUSY : nl_drain(&d->ev, on_msg, d);
			espx_unlock(lock);
			if (err == -ENOBUFS) {
				pr_warn("daemon: XFRM events were lost (ENOBUFS): full resync\n");
				d->resync = 1;
			}
		}
		if (pfd[1].revents)
			ring_buffer__consume(d->rb);
		if (pfd[2].revents) {
			__u64 n;

			if (read(d->tfd, &n, sizeof(n)) < 0)
				n = 0;
			heartbeat(d, 0);
			tick(d, 0);
		}
		if (pfd[3].revents) {
			struct signalfd_siginfo si;

			if (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					d->resync = 1;
				else
					stop = 1;
			}
		}
		if (d->resync && !d->lock_retry)
			resync(d);
		if (d->publish && !d->lock_retry)
			publish(d);
	}
	tick(d, 1);
}

/* The one way out, from any point of daemon_start() or after the loop:
 * devices handed back, the heartbeat cleared, everything freed. */
static void daemon_stop(struct daemon *d)
{
	int i;

	for (i = 0; i < d->ndev; i++)
		if (d->attached[i])
			espx_detach(d->dev[i]);	/* hands the SAs back first */
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->tfd >= 0)
		close(d->tfd);
	/* stopped, not killed: no daemon, and the devices were handed back */
	heartbeat(d, 1);
	if (d->hb_fd >= 0)
		close(d->hb_fd);
	ring_buffer__free(d->rb);
	espx_dp_close(&d->dp);
	nl_close(&d->ev);
	nl_close(&d->rq);
	free(d->sa);
	free(d->pol);
	free(d->seen.k);
	xnl_sa_wipe(d->tmp);
	free(d->tmp);
	free(d);
}

int daemon_cmd(int argc, char **argv)
{
	struct daemon *d = daemon_new();
	int rc;

	if (!d)
		return 1;
	rc = parse_args(d, argc, argv);	/* 2: usage error */
	if (!rc) {
		rc = 1;
		if (one_daemon() >= 0 && !daemon_start(d)) {
			daemon_loop(d);
			rc = 0;
		}
	}
	daemon_stop(d);
	return rc;
}
