/* SPDX-License-Identifier: GPL-2.0 */
/* ACQUIRE reports. With espx attached the device has disable_xfrm, so the
 * kernel never looks up outbound policies and never asks the IKE daemon for
 * an SA (XFRM_MSG_ACQUIRE) when traffic meets a policy whose SA is missing:
 * an IKE daemon's on-demand ("trap") policies would never come up. The
 * transmit path drops such packets (policy-without-sa) and reports them
 * here (struct espx_acquire_event); the netlink daemon raises the ACQUIRE
 * in the kernel's place. At most one report per (policy, destination) per
 * ESPX_ACQ_INTERVAL_NS, so a flood does not fill the ring: the kernel too
 * asks once and then waits (its larval state). */
#ifndef ESPX_BPF_ACQUIRE_H
#define ESPX_BPF_ACQUIRE_H

#include "maps.h"
#include "selector.h"

/* Is it time to report (policy p, flow f) again? Claims the slot: of
 * concurrent callers exactly one gets 1. k: room for the key (policy.h's
 * per-CPU scratch; the transmit path has no stack to spare). */
static __always_inline int acq_due(struct espx_acq_key *k, const struct espx_policy *p,
				   const struct flow *f, __u64 now)
{
	__u64 *last, prev;

	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->daddr, f->daddr, sizeof(k->daddr));
	k->index = p->index;
	k->family = f->family;
	last = bpf_map_lookup_elem(&espx_acq, k);
	if (!last)
		return !bpf_map_update_elem(&espx_acq, k, &now, BPF_NOEXIST);
	prev = *last;
	if (now - prev < ESPX_ACQ_INTERVAL_NS)
		return 0;
	return __sync_val_compare_and_swap(last, prev, now) == prev;
}

/* Report that outbound flow f met policy p, whose template has no SA. */
static __always_inline void acq_report(struct espx_acq_key *k, const struct espx_policy *p,
				       const struct flow *f)
{
	struct espx_acquire_event *ev;
	__u64 now = bpf_ktime_get_boot_ns();

	if (!acq_due(k, p, f, now))
		return;
	ev = bpf_ringbuf_reserve(&espx_events, sizeof(*ev), 0);
	if (!ev)
		return;		/* ring full: the next packet after the interval retries */
	ev->type = ESPX_EV_ACQUIRE;
	ev->dir = ESPX_DIR_OUT;
	ev->time = now;
	__builtin_memcpy(ev->saddr, f->saddr, sizeof(ev->saddr));
	__builtin_memcpy(ev->daddr, f->daddr, sizeof(ev->daddr));
	ev->sport = f->sport;
	ev->dport = f->dport;
	ev->family = f->family;
	ev->proto = f->proto;
	ev->pol_dir = p->dir;
	ev->pad = 0;
	ev->index = p->index;
	ev->priority = p->priority;
	__builtin_memcpy(&ev->sel, &p->sel, sizeof(ev->sel));
	__builtin_memcpy(&ev->tmpl, &p->tmpl, sizeof(ev->tmpl));
	bpf_ringbuf_submit(ev, 0);
}

#endif
