/* SPDX-License-Identifier: GPL-2.0 */
/* Sequence numbers on receive: the anti-replay window of RFC 4303 s3.4.3,
 * up to ESPX_REPLAY_MAX packets wide, and the ESN high half inferred as in
 * RFC 4303 Appendix A. The window is checked before the ICV (cheap reject)
 * and updated only after the ICV verified, both under the SA's spin lock so
 * that CPUs receiving the same SA agree; the update re-checks, because
 * another CPU may have accepted the same number in between. */
#ifndef ESPX_BPF_REPLAY_H
#define ESPX_BPF_REPLAY_H

#include "compat.h"
#include "espx_sa.h"
#include "espx_drop.h"

/* Appendix A2.2: which 2^32 block seq_lo belongs to, relative to the
 * highest number accepted so far (T = Th:Tl) and window W. */
static __always_inline __u64 replay_seq64(const struct espx_sa *sa, __u32 seq_lo)
{
	__u64 top = sa->seq;
	__u32 tl = (__u32)top, th = (__u32)(top >> 32);
	__u32 w = sa->replay_window ? sa->replay_window : 1;

	if (!(sa->flags & ESPX_SA_F_ESN))
		return seq_lo;
	if (tl >= w - 1) {
		if (seq_lo < tl - w + 1)
			th++;		/* wrapped: the next block */
	} else {
		if (seq_lo >= tl - w + 1) {
			if (!th)
				return 0;	/* before the first packet: never valid */
			th--;		/* window straddles 0: previous block */
		}
	}
	return ((__u64)th << 32) | seq_lo;
}

/* 0 if seq may be accepted, else -ESPX_DROP_x. Caller holds sa->lock. */
static __always_inline int replay_check_locked(const struct espx_sa *sa, __u64 seq)
{
	__u64 diff, bit;

	if (!sa->replay_window)
		return 0;	/* as XFRM: window 0 turns the check off */
	if (seq == 0)
		return -ESPX_DROP_REPLAY_OLD;	/* 0 is never sent (nor inferred, see above) */
	if (seq > sa->seq)
		return 0;
	diff = sa->seq - seq;
	if (diff >= sa->replay_window)
		return -ESPX_DROP_REPLAY_OLD;
	bit = seq % ESPX_REPLAY_MAX;
	if (sa->replay[(bit / 64) & (ESPX_REPLAY_WORDS - 1)] & (1ULL << (bit % 64)))
		return -ESPX_DROP_REPLAY;
	return 0;
}

static __always_inline int replay_check(struct espx_sa *sa, __u64 seq)
{
	int r;

	bpf_spin_lock(&sa->lock);
	r = replay_check_locked(sa, seq);
	bpf_spin_unlock(&sa->lock);
	return r;
}

/* Record seq as seen; the window slides when seq is new. Bits of the numbers
 * the window slides over are cleared first: they belong to the next lap. */
static __always_inline int replay_advance(struct espx_sa *sa, __u64 seq)
{
	__u64 bit, cur, mask, n;
	int r, i;

	bpf_spin_lock(&sa->lock);
	r = replay_check_locked(sa, seq);
	if (r)
		goto out;
	if (seq > sa->seq) {
		if (seq - sa->seq >= ESPX_REPLAY_MAX) {
#pragma unroll
			for (i = 0; i < ESPX_REPLAY_WORDS; i++)
				sa->replay[i] = 0;
		} else {
			/* clear bits sa->seq+1 .. seq, a word at a time */
			cur = sa->seq + 1;
			for (i = 0; i <= ESPX_REPLAY_WORDS && cur <= seq; i++) {
				bit = cur % 64;
				n = 64 - bit;
				if (n > seq - cur + 1)
					n = seq - cur + 1;
				mask = n >= 64 ? ~0ULL : ((1ULL << n) - 1) << bit;
				sa->replay[(cur / 64) % ESPX_REPLAY_WORDS] &= ~mask;
				cur += n;
			}
		}
		sa->seq = seq;
	}
	bit = seq % ESPX_REPLAY_MAX;
	sa->replay[(bit / 64) & (ESPX_REPLAY_WORDS - 1)] |= 1ULL << (bit % 64);
out:
	bpf_spin_unlock(&sa->lock);
	return r;
}

#endif
