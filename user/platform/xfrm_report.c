// SPDX-License-Identifier: GPL-2.0
/* What the daemon owes the kernel for the SAs espx carries, as a
 * packet-offload driver does:
 *  counters:  every interval, NEWAE with each SA's bytes/packets/use time,
 *             and the sequence state (handover.h).
 *  expiries:  soft/hard byte and packet limits (the datapath's events, and
 *             its SA flags as a fallback) -> XFRM_MSG_EXPIRE; on hard, the
 *             kernel deletes the SA and DELSA removes it (xfrm_sync.c).
 *  split:     after a partial detach, a split SA without ESN is ended
 *             before the kernel's numbers reach espx's.
 *  acquire:   the datapath's ACQUIRE reports (outbound traffic on a policy
 *             without SA, which disable_xfrm hides from the kernel) ->
 *             XFRM_MSG_ACQUIRE, which the kernel passes to the IKE daemon
 *             as its own: on-demand (trap) tunnels come up. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <bpf/bpf.h>
#include "platform/pins.h"
#include "espx_event.h"
#include "common/log.h"
#include "platform/lock.h"
#include "common/util.h"
#include "platform/xfrm_sync.h"

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
			xsync_sa_name(&m->key, name, sizeof(name)), (unsigned long long)m->k_oseq,
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
			xsync_sa_name(&m->key, name, sizeof(name)), strerror(-err));
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
			xsync_sa_name(&m->key, name, sizeof(name)), err ? " (failed)" : "");
	}
	if ((sa->flags & ESPX_SA_F_HARD_SENT) && !m->hard_done) {
		m->hard_done = 1;
		d->publish = 1;	/* policies stop pointing at it now */
		err = xnl_expire(&d->rq, &m->key, 1);
		pr_info("SA %s: hard limit reached, told the kernel%s\n",
			xsync_sa_name(&m->key, name, sizeof(name)), err ? " (failed)" : "");
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
		xsync_sa_name(&m->key, name, sizeof(name)), (unsigned long long)at,
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

void xreport_tick(struct daemon *d, int force)
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
	const struct mpol *m = xsync_pol_find(d, ev->index);
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

int xreport_on_event(void *ctx, void *data, size_t len)
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
	    !(m = xsync_msa_find(d, &e->sa)))
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
