/* SPDX-License-Identifier: GPL-2.0 */
/* SA lifetimes as XFRM keeps them (curlft): packets and bytes per SA, the
 * time of last use, and the soft and hard limits. Crossing a limit sends one
 * event to user space (espx_events); after the hard limit the datapath does
 * not use the SA again. Bytes are the inner packet's length, as XFRM counts
 * skb->len before encryption and after decryption. */
#ifndef ESPX_BPF_LIFETIME_H
#define ESPX_BPF_LIFETIME_H

#include "maps.h"

static __always_inline void lft_event(struct espx_sa *sa, const struct espx_sa_key *key,
				      __u32 type, enum espx_dir dir)
{
	struct espx_event *ev = bpf_ringbuf_reserve(&espx_events, sizeof(*ev), 0);

	if (!ev)
		return;		/* ring full: user space also polls the flags */
	ev->type = type;
	ev->dir = dir;
	__builtin_memcpy(&ev->sa, key, sizeof(*key));
	ev->packets = sa->packets;
	ev->bytes = sa->bytes;
	ev->time = bpf_ktime_get_boot_ns();
	bpf_ringbuf_submit(ev, 0);
}

/* The SA may not be used any more (hard limit reached earlier). */
static __always_inline int lft_expired(const struct espx_sa *sa)
{
	return sa->flags & ESPX_SA_F_HARD_SENT;
}

/* Account one packet of len bytes. As xfrm_state_check_expire(), limits are
 * checked against the counts before this packet: a nonzero return means the
 * hard limit was already reached and the packet must be dropped. */
static __always_inline int lft_account(struct espx_sa *sa, const struct espx_sa_key *key,
				       __u32 len, enum espx_dir dir)
{
	__u64 p = sa->packets, b = sa->bytes;

	if (p >= sa->lft.hard_packets || b >= sa->lft.hard_bytes) {
		if (!(__sync_fetch_and_or(&sa->flags, ESPX_SA_F_HARD_SENT) & ESPX_SA_F_HARD_SENT))
			lft_event(sa, key, ESPX_EV_HARD, dir);
		return 1;
	}
	__sync_fetch_and_add(&sa->packets, 1);
	__sync_fetch_and_add(&sa->bytes, len);
	sa->use_time = bpf_ktime_get_boot_ns();
	if ((p >= sa->lft.soft_packets || b >= sa->lft.soft_bytes) &&
	    !(__sync_fetch_and_or(&sa->flags, ESPX_SA_F_SOFT_SENT) & ESPX_SA_F_SOFT_SENT))
		lft_event(sa, key, ESPX_EV_SOFT, dir);
	return 0;
}

#endif
