// SPDX-License-Identifier: GPL-2.0
/* The constant-time GHASH of bpf/lib/ghash.h, compiled for the host: every
 * entry point against a bitwise model of GF(2^128) multiplication (NIST SP
 * 800-38D, Algorithm 1) on random keys and blocks, and the aggregated forms
 * (4 blocks, n = 1..4 blocks per reduction) against block-at-a-time GHASH.
 * The KATs through BPF are in tests/test_crypto_vectors.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#pragma GCC diagnostic ignored "-Wunknown-pragmas"	/* clang's unroll hints */
#include "../../bpf/lib/ghash.h"
#include "check.h"

#define ROUNDS	2000

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible, no seeding from the clock */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545F4914F6CDD1DULL;
}

/* Z = X * Y, bit by bit: bit 0 of the block is the MSB of hi. */
static void ref_mul(__u64 *zh, __u64 *zl, __u64 xh, __u64 xl, __u64 yh, __u64 yl)
{
	__u64 ah = 0, al = 0, vh = yh, vl = yl;

	for (int i = 0; i < 128; i++) {
		int bit = i < 64 ? (xh >> (63 - i)) & 1 : (xl >> (127 - i)) & 1;
		uint64_t lsb = vl & 1;

		if (bit) {
			ah ^= vh;
			al ^= vl;
		}
		vl = (vl >> 1) | (vh << 63);
		vh >>= 1;
		if (lsb)
			vh ^= 0xE100000000000000ULL;
	}
	*zh = ah;
	*zl = al;
}

static void key_from(struct espx_ghkey *k, __u64 hh, __u64 hl)
{
	uint8_t hb[16];
	uint64_t be;

	be = __builtin_bswap64(hh);
	memcpy(hb, &be, 8);
	be = __builtin_bswap64(hl);
	memcpy(hb + 8, &be, 8);
	ghash_key_init(k, hb);
}

int main(void)
{
	int bad1 = 0, badpow = 0, bad4 = 0, badn = 0;
	struct espx_ghkey k;
	__u64 wbuf[5][6];

	printf("PLAN 4\n");
	for (int r = 0; r < ROUNDS; r++) {
		__u64 hh = rnd(), hl = rnd(), ph = hh, pl = hl;
		__u64 blk[8], yh, yl, rh, rl, y0h = rnd(), y0l = rnd();

		if (r == 0)
			hh = 0x66e94bd4ef8a2c3bULL, hl = 0x884cfa59ca342b2eULL, ph = hh, pl = hl;
		if (r == 1)	/* H = 1 (the identity in GCM's bit order) */
			hh = 0x8000000000000000ULL, hl = 0, ph = hh, pl = hl;
		key_from(&k, hh, hl);
		/* the stored powers are H^1..H^4 */
		for (int i = 1; i < 4; i++) {
			struct espx_ghpow want;

			ref_mul(&ph, &pl, ph, pl, hh, hl);
			gh_pow_set(&want, ph, pl);
			badpow |= memcmp(&want, &k.pow[i], sizeof(want)) != 0;
		}
		/* one block */
		__u64 xh = rnd(), xl = rnd();

		yh = y0h;
		yl = y0l;
		ghash_1w(&yh, &yl, xh, xl, &k);
		ref_mul(&rh, &rl, y0h ^ xh, y0l ^ xl, hh, hl);
		bad1 |= yh != rh || yl != rl;
		/* four blocks, raw little-endian words as loaded from memory */
		for (int i = 0; i < 8; i++)
			blk[i] = rnd();
		rh = y0h;
		rl = y0l;
		for (int i = 0; i < 4; i++)
			ref_mul(&rh, &rl, rh ^ __builtin_bswap64(blk[2 * i]),
				rl ^ __builtin_bswap64(blk[2 * i + 1]), hh, hl);
		yh = y0h;
		yl = y0l;
		ghash_4(&yh, &yl, blk, &k, wbuf);
		bad4 |= yh != rh || yl != rl;
		/* n = 1..4 */
		for (unsigned int n = 1; n <= 4; n++) {
			rh = y0h;
			rl = y0l;
			for (unsigned int i = 0; i < n; i++)
				ref_mul(&rh, &rl, rh ^ __builtin_bswap64(blk[2 * i]),
					rl ^ __builtin_bswap64(blk[2 * i + 1]), hh, hl);
			yh = y0h;
			yl = y0l;
			ghash_n(&yh, &yl, blk, n, &k);
			badn |= yh != rh || yl != rl;
		}
	}
	check(!badpow, "ghash_key_powers", "H^2..H^4 differ from the bitwise model");
	check(!bad1, "ghash_one_block", "(Y ^ X) * H differs from the bitwise model");
	check(!bad4, "ghash_four_blocks", "aggregated 4-block GHASH differs from 4 single steps");
	check(!badn, "ghash_n_blocks", "ghash_n (n = 1..4) differs from n single steps");
	return failed;
}
