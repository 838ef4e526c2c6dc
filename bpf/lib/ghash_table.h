/* SPDX-License-Identifier: GPL-2.0 */
/* BENCHMARK REFERENCE ONLY, not used by the datapath: GHASH with Shoup's
 * 8-bit tables, as espx computed it before the constant-time GHASH of
 * ghash.h. A 4 KiB table htab[b] = b * H and one key-independent 256-entry
 * reduction table; the table loads depend on the key and the data (not
 * constant time). bpf/espx_crypto_test.bpf.c keeps it so `make bench` times
 * both in the same run. Elements are two u64 words whose values are the
 * big-endian halves of the 16-byte block. */
#ifndef ESPX_BPF_GHASH_TABLE_H
#define ESPX_BPF_GHASH_TABLE_H

#include "compat.h"
#include "espx_sa.h"

/* Reduction of the byte shifted out when multiplying by x^8: for each set bit
 * j of r, XOR 0xE1 (the GCM polynomial, bit-reflected) shifted into place.
 * Computed by the preprocessor so no generated file is needed. */
#define GH_RB(r, j)	(((r) >> (j)) & 1 ? (0xE100ULL >> (7 - (j))) : 0)
#define GH_R(r)		((GH_RB(r, 0) ^ GH_RB(r, 1) ^ GH_RB(r, 2) ^ GH_RB(r, 3) ^ \
			  GH_RB(r, 4) ^ GH_RB(r, 5) ^ GH_RB(r, 6) ^ GH_RB(r, 7)) << 48)
#define GH_R4(r)	GH_R(r), GH_R((r) + 1), GH_R((r) + 2), GH_R((r) + 3)
#define GH_R16(r)	GH_R4(r), GH_R4((r) + 4), GH_R4((r) + 8), GH_R4((r) + 12)
#define GH_R64(r)	GH_R16(r), GH_R16((r) + 16), GH_R16((r) + 32), GH_R16((r) + 48)

static const __u64 ghtab_r8[256] = {
	GH_R64(0), GH_R64(64), GH_R64(128), GH_R64(192)
};

/* y = y * H, with y given as the big-endian-valued words (yh, yl). Walks the
 * 16 bytes from the last one: Z = Z * x^8 + byte * H. */
static __always_inline void ghtab_mul(__u64 *yh, __u64 *yl, const struct espx_gh *htab)
{
	__u64 xh = *yh, xl = *yl, zh, zl, rem;
	__u32 b = xl & 0xff;

	zh = htab[b].hi;
	zl = htab[b].lo;
#pragma unroll
	for (int i = 1; i < 16; i++) {
		__u64 w = i < 8 ? xl : xh;

		b = (w >> (8 * (i & 7))) & 0xff;
		rem = zl & 0xff;
		zl = (zh << 56) | (zl >> 8);
		zh = (zh >> 8) ^ ghtab_r8[rem];
		zh ^= htab[b].hi;
		zl ^= htab[b].lo;
	}
	*yh = zh;
	*yl = zl;
}

/* Absorb one 16-byte block (given as raw little-endian u64 loads of the
 * block's bytes) into the hash state. */
static __always_inline void ghtab_block(__u64 *yh, __u64 *yl, __u64 w0, __u64 w1,
					const struct espx_gh *htab)
{
	*yh ^= bswap64(w0);
	*yl ^= bswap64(w1);
	ghtab_mul(yh, yl, htab);
}

/* v = v * x in GCM's reflected bit order (a right shift). */
static __always_inline void ghtab_mulx(__u64 *h, __u64 *l)
{
	__u64 c = *l & 1;

	*l = (*h << 63) | (*l >> 1);
	*h = (*h >> 1) ^ (c ? 0xE100000000000000ULL : 0);
}

/* Build htab from H (16 bytes, as produced by AES_K(0)). Index bits are in
 * GCM's reflected order: 128 is H itself, 64 is H*x, ... 1 is H*x^7, and the
 * rest are XOR combinations. */
static __always_inline void ghtab_init(struct espx_gh *htab, const __u8 *hbytes)
{
	__u64 h = bswap64(*(const __u64 *)&hbytes[0]);
	__u64 l = bswap64(*(const __u64 *)&hbytes[8]);

	htab[0].hi = 0;
	htab[0].lo = 0;
	htab[128].hi = h;
	htab[128].lo = l;
#pragma unroll
	for (int i = 64; i > 0; i >>= 1) {
		ghtab_mulx(&h, &l);
		htab[i].hi = h;
		htab[i].lo = l;
	}
#pragma unroll
	for (int i = 2; i <= 128; i <<= 1) {
#pragma unroll
		for (int j = 1; j < i; j++) {
			htab[i + j].hi = htab[i].hi ^ htab[j].hi;
			htab[i + j].lo = htab[i].lo ^ htab[j].lo;
		}
	}
}

#endif
