// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness, differential: the datapath's anti-replay window and
 * ESN inference (bpf/lib/replay.h, compiled here as plain C: only the BPF
 * base include and the spin lock are replaced, see below) against a
 * reference model written from RFC 4303 section 3.4.3 and Appendix A,
 * kept in a different form (an array indexed by distance from the top
 * instead of a bitmap indexed by number modulo 4096).
 *
 * Input: a configuration, then packets.
 *   bytes 0-1  window W = value % (ESPX_REPLAY_MAX + 1): every size espx
 *              accepts (replay-window 0..4096; 0 turns the check off)
 *   byte 2     bit 0: ESN (W 0 becomes 1: the kernel and `espx state add`
 *              refuse ESN without a window)
 *   bytes 3-10 the highest number accepted before (replay-seq/-seq-hi or a
 *              take-over from the kernel), window empty; 32 bits without ESN
 *   then 5 bytes per packet: a 32-bit value and a flag byte:
 *     bit 0     the ICV verifies (authentic)
 *     bits 1-2  how the value gives the packet's 32-bit number: 0 as is;
 *               1 Tl + (int16)value; 2 Tl - W + (int8)value (the left
 *               edge); 3 Tl + 2^31 + (int16)value (the far side)
 *     bit 7     compare the whole window after this packet
 * Each packet goes as receive does it (bpf/lib/esp_rx.h): infer the
 * 64-bit number, check, and only if the ICV verifies, advance. Any
 * disagreement in the inferred number, the verdict (accept, replayed,
 * left of the window), the top or the window aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_spin_lock */

/* What bpf/lib/compat.h gives replay.h on the BPF side: vmlinux.h,
 * bpf_helpers.h. User space has the types (espx_sa.h includes linux/bpf.h
 * for struct bpf_spin_lock); one CPU needs no lock. */
#define ESPX_BPF_COMPAT_H
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
static int locked;
static void bpf_spin_lock(struct bpf_spin_lock *l)
{
	(void)l;
	if (locked++)
		abort();	/* replay.h never nests it */
}
static void bpf_spin_unlock(struct bpf_spin_lock *l)
{
	(void)l;
	if (--locked)
		abort();
}
#include "lib/replay.h"

/* ---- the reference: RFC 4303 3.4.3 and Appendix A ---- */

struct ref {
	__u64 top;			/* T: highest authenticated number */
	__u32 w;			/* W */
	int esn;
	__u8 seen[ESPX_REPLAY_MAX];	/* seen[i]: T - i was received, i < W */
};

/* Appendix A2.2: the high 32 bits of a packet's number from its low 32
 * bits; 0 if no number of the 64-bit space can be meant (before 1, or past
 * 2^64 - 1: a counter never cycles). Without ESN the number is seql. */
static int ref_infer(const struct ref *r, __u32 seql, __u64 *seq)
{
	__u32 tl = (__u32)r->top, th = (__u32)(r->top >> 32), seqh;

	if (!r->esn) {
		*seq = seql;
		return 1;
	}
	if (tl >= r->w - 1) {			/* Case A: one subspace */
		if (seql >= tl - r->w + 1) {
			seqh = th;
		} else {
			if (th == UINT32_MAX)
				return 0;
			seqh = th + 1;
		}
	} else {				/* Case B: spans two */
		if (seql >= (__u32)(tl - r->w + 1)) {
			if (!th)
				return 0;
			seqh = th - 1;
		} else {
			seqh = th;
		}
	}
	*seq = (__u64)seqh << 32 | seql;
	return 1;
}

/* 3.4.3: 0 accept, else the drop reason. */
static int ref_check(const struct ref *r, __u64 seq)
{
	if (!r->w)
		return 0;			/* no anti-replay service */
	if (!seq)
		return -ESPX_DROP_REPLAY_OLD;	/* the first packet sent is 1 */
	if (seq > r->top)
		return 0;			/* right of the window: new */
	if (r->top - seq >= r->w)
		return -ESPX_DROP_REPLAY_OLD;	/* left of the window */
	return r->seen[r->top - seq] ? -ESPX_DROP_REPLAY : 0;
}

/* After the ICV verified: slide the window if seq is new, mark it. */
static void ref_advance(struct ref *r, __u64 seq)
{
	__u64 d;

	if (!r->w) {
		if (seq > r->top)
			r->top = seq;
		return;
	}
	if (seq > r->top) {
		d = seq - r->top;
		if (d >= r->w) {
			memset(r->seen, 0, r->w);
		} else {
			memmove(r->seen + d, r->seen, r->w - d);
			memset(r->seen, 0, d);
		}
		r->top = seq;
	}
	r->seen[r->top - seq] = 1;
}

/* ---- the comparison ---- */

static void differ(const char *what, const struct ref *r, __u32 seql, __u64 a, __u64 b)
{
	fprintf(stderr, "fuzz_replay: %s: W %u esn %d top %llu seql %u: espx %llu, reference %llu\n",
		what, r->w, r->esn, (unsigned long long)r->top, seql, (unsigned long long)a,
		(unsigned long long)b);
	abort();
}

static void compare_window(const struct espx_sa *sa, const struct ref *r)
{
	__u64 i, s;
	int bit;

	if (!r->w)
		return;
	if (sa->seq != r->top)
		differ("top", r, 0, sa->seq, r->top);
	for (i = 0; i < r->w && i <= r->top; i++) {
		s = r->top - i;
		bit = !!(sa->replay[(s % ESPX_REPLAY_MAX) / 64] & (1ULL << (s % 64)));
		if (bit != r->seen[i])
			differ("window bit", r, (__u32)s, (__u64)bit, r->seen[i]);
	}
}

static __u64 le(const uint8_t *p, int n)
{
	__u64 v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct espx_sa sa;
	static struct ref r;
	__u64 seq, rseq;
	__u32 seql, tl, v;
	size_t off;
	int rv, got, ok;

	if (size < 11)
		return 0;
	memset(&sa, 0, sizeof(sa));
	memset(&r, 0, sizeof(r));
	r.w = (__u32)(le(data, 2) % (ESPX_REPLAY_MAX + 1));
	r.esn = data[2] & 1;
	if (r.esn && !r.w)
		r.w = 1;
	r.top = le(data + 3, 8);
	if (!r.esn)
		r.top &= UINT32_MAX;
	sa.replay_window = (__u16)r.w;
	sa.flags = r.esn ? ESPX_SA_F_ESN : 0;
	sa.seq = r.top;

	for (off = 11; off + 5 <= size; off += 5) {
		v = (__u32)le(data + off, 4);
		tl = (__u32)r.top;
		switch (data[off + 4] >> 1 & 3) {
		case 0: seql = v; break;
		case 1: seql = tl + (__u32)(__s32)(__s16)v; break;
		case 2: seql = tl - r.w + (__u32)(__s32)(__s8)v; break;
		default: seql = tl + 0x80000000u + (__u32)(__s32)(__s16)v; break;
		}

		/* receive: rx_checks, then rx_open after the ICV */
		seq = replay_seq64(&sa, seql);
		got = replay_check(&sa, seq);
		ok = ref_infer(&r, seql, &rseq);
		rv = ok ? ref_check(&r, rseq) : -ESPX_DROP_REPLAY_OLD;
		if (ok && seq != rseq)
			differ("inferred number", &r, seql, seq, rseq);
		if (got != rv)
			differ("verdict", &r, seql, (__u64)-got, (__u64)-rv);
		if (!got && (data[off + 4] & 1)) {
			got = replay_advance(&sa, seq);
			if (got)	/* one CPU: nothing took it meanwhile */
				differ("advance after a passed check", &r, seql, (__u64)-got, 0);
			ref_advance(&r, rseq);
		}
		if (r.w && sa.seq != r.top)
			differ("top", &r, seql, sa.seq, r.top);
		if (data[off + 4] & 0x80)
			compare_window(&sa, &r);
	}
	compare_window(&sa, &r);
	return 0;
}
