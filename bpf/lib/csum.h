/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums (RFC 1071) for both directions: folding, the IPv4
 * header, the TCP/UDP/ICMPv6 pseudo header, an incremental update (RFC
 * 1624), and sums over the per-CPU GCM buffer in bpf_csum_diff() chunks. */
#ifndef ESPX_BPF_CSUM_H
#define ESPX_BPF_CSUM_H

#include "compat.h"
#include "gcm.h"

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* A 64-bit accumulator folded to 32 bits, the carries kept. */
static __always_inline __u32 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__u32)sum;
}

/* Checksum of a 20-byte IPv4 header (its csum field must be zero). */
static __always_inline __u16 ipv4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold32(sum);
}

/* sum, plus the pseudo header of RFC 793 / RFC 8200 s8.1: both addresses
 * (one word each for IPv4, four for IPv6), the upper-layer protocol and
 * length. Unfolded: the caller adds it to its own sum, then folds. */
static __always_inline __u32 csum_pseudo(__u32 sum, const __u32 *saddr, const __u32 *daddr,
					 __u8 family, __u8 proto, __u32 len)
{
	__u64 acc = sum;
	__u32 i;

	for (i = 0; i < (family == AF_INET ? 1 : 4); i++)
		acc += (__u64)saddr[i & 3] + daddr[i & 3];
	acc += (__u64)bpf_htonl(proto) + bpf_htonl(len);
	return csum_fold64(acc);
}

static __always_inline __u16 csum16_add(__u16 a, __u16 b)
{
	__u32 s = (__u32)a + b;

	return (__u16)((s & 0xffff) + (s >> 16));
}

/* RFC 1624 eqn. 3: the checksum after one 16-bit word went from old to new. */
static __always_inline __u16 csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Ones' complement sum of s->buf[off, end), end - off a multiple of 4 and
 * end at most CSUM_END, in bpf_csum_diff() calls of up to 512 bytes (its
 * limit), one bpf_loop callback each: a callback costs more than summing
 * 256 bytes. */
#define CSUM_CHUNK	512
#define CSUM_END	(ESPX_GCM_MAX_DATA - 256)

struct csum_sum {
	struct gcm_scratch *s;
	__u32 off;
	__u32 end;
	__u32 sum;
};

static int csum_range_cb(__u32 i, void *data)
{
	struct csum_sum *c = data;
	__u32 off = c->off + i * CSUM_CHUNK, len;
	__s64 r;

	/* a chunk may read past CSUM_END (never past end): still inside
	 * the scratch, which the verifier checks */
	if (off >= c->end || off >= CSUM_END)
		return 1;
	len = c->end - off;
	if (len > CSUM_CHUNK)
		len = CSUM_CHUNK;
	r = bpf_csum_diff(NULL, 0, (void *)&c->s->buf[off & (ESPX_GCM_MAX_DATA - 1)],
			  len & (2 * CSUM_CHUNK - 4), c->sum);
	if (r < 0)
		return 1;
	c->sum = (__u32)r;
	return 0;
}

/* The sum of s->buf[off, end) into c (c->sum seeds it). */
static __always_inline void csum_buf(struct csum_sum *c, struct gcm_scratch *s, __u32 off,
				     __u32 end)
{
	c->s = s;
	c->off = off;
	c->end = end;
	bpf_loop((end - off + CSUM_CHUNK - 1) / CSUM_CHUNK, csum_range_cb, c, 0);
}

#endif
