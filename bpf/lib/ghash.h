/* SPDX-License-Identifier: GPL-2.0 */
/* GHASH (GCM's universal hash, NIST SP 800-38D) in BPF, constant time.
 *
 * Why: the former 8-bit Shoup tables indexed a 4 KiB per-SA table with key-
 * and data-dependent bytes (a cache-timing channel, against espx's "constant
 * time by default"), 4 KiB per SA. Here a
 * carry-less 64x64 multiplication is built from ordinary integer multiplies
 * of operands whose set bits are 4 apart, so carries never reach a bit that
 * is kept (BearSSL's ghash_ctmul64, by Thomas Pornin): bmul64 gives the low
 * 64 bits of the product, bmul64 of the bit-reversed operands the high ones.
 * Karatsuba makes a 128x128 product 3 such 64x64 products (6 bmul64). No
 * load address and no branch depends on the key or the data.
 *
 * Speed: every step is linear, so blocks are aggregated: four blocks X1..X4
 * update Y as (Y^X1)*H^4 ^ X2*H^3 ^ X3*H^2 ^ X4*H, the four products are
 * independent (the CPU overlaps them), and their unreduced, unreversed
 * partial products are summed so the reversal, shift and reduction happen
 * once per group. The key side of every bmul64 is pre-split into its four
 * masked parts per SA (struct espx_ghkey: H..H^4, 768 bytes), so a block
 * costs 96 loads+multiplies+XORs and its own masking only.
 *
 * Cost: the 96 multiplies per block are the floor. On the 2026-12-02 bench
 * host (docs/benchmarks.md) this is 1.1-1.3x the time of the former tables,
 * not faster: the price of constant time and of 1496-byte SAs.
 *
 * Elements are held as two u64 words whose values are the big-endian halves
 * of the 16-byte block (hi = bytes 0..7). The arithmetic below is plain C so
 * tests/unit/test_ghash.c checks it on the host against a bitwise model. */
#ifndef ESPX_BPF_GHASH_H
#define ESPX_BPF_GHASH_H

#ifdef __bpf__
#include "compat.h"
#endif
#include "espx_sa.h"

#define GH_M0	0x1111111111111111ULL
#define GH_M1	0x2222222222222222ULL
#define GH_M2	0x4444444444444444ULL
#define GH_M3	0x8888888888888888ULL

/* Reverse the bits inside each byte (byte order kept). */
static __always_inline __u64 gh_rev8(__u64 x)
{
	x = ((x & 0x5555555555555555ULL) << 1) | ((x >> 1) & 0x5555555555555555ULL);
	x = ((x & 0x3333333333333333ULL) << 2) | ((x >> 2) & 0x3333333333333333ULL);
	x = ((x & 0x0F0F0F0F0F0F0F0FULL) << 4) | ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL);
	return x;
}

/* Reverse all 64 bits. */
static __always_inline __u64 gh_rev64(__u64 x)
{
	return gh_rev8(__builtin_bswap64(x));
}

/* The four raw (unmasked) class sums of bmul64(x, y) with y given as its
 * four masked parts y[0..3]: class k collects x_i * y_j with i + j = k
 * (mod 4); only its bits at positions = k (mod 4) are meaningful. XORed into
 * z0..z3.
 *
 * In BPF this is inline assembly: clang keeps all x_i and y_j live at once
 * and spills most of them (BPF has 10 registers), twice the instructions
 * and over the 512-byte stack for four blocks. Here 3 instructions per
 * multiplication (load y_j, multiply, XOR) and 2 per mask. */
#ifdef __bpf__
#define GH_MUL(zk, yo)	"%[t] = *(u64 *)(%[y] + %[" #yo "])\n\t%[t] *= %[xi]\n\t%[" #zk "] ^= %[t]\n\t"
#define GH_XI(m, za, zb, zc, zd)					\
	"%[xi] = " #m " ll\n\t%[xi] &= %[x]\n\t"				\
	GH_MUL(za, o0) GH_MUL(zb, o1) GH_MUL(zc, o2) GH_MUL(zd, o3)
/* y: the parts at byte offset OFF (a constant) from Y: one base register
 * for all key words, so clang does not keep (and spill) a pointer per word */
#define gh_bmul_raw(A0, A1, A2, A3, X, Y, OFF)					\
do {										\
	__u64 __xi, __t;							\
										\
	asm volatile(GH_XI(0x1111111111111111, z0, z1, z2, z3)			\
		     GH_XI(0x2222222222222222, z1, z2, z3, z0)			\
		     GH_XI(0x4444444444444444, z2, z3, z0, z1)			\
		     GH_XI(0x8888888888888888, z3, z0, z1, z2)			\
		     : [z0] "+r"(A0), [z1] "+r"(A1), [z2] "+r"(A2), [z3] "+r"(A3),	\
		       [xi] "=&r"(__xi), [t] "=&r"(__t)				\
		     : [x] "r"(X), [y] "r"(Y), [o0] "i"(OFF), [o1] "i"((OFF) + 8),	\
		       [o2] "i"((OFF) + 16), [o3] "i"((OFF) + 24)			\
		     : "memory");						\
} while (0)
/* Mask each product as soon as it is done: left to itself clang sinks the
 * masks into the reduction and keeps (spills) all 24 class sums. */
#define GH_KEEP(v)	asm volatile("" : "+r"(v))
#else
#define GH_KEEP(v)	do { } while (0)
#define gh_bmul_raw(z0, z1, z2, z3, x, y, OFF)					\
do {										\
	__u64 __x0 = (x) & GH_M0, __x1 = (x) & GH_M1;				\
	__u64 __x2 = (x) & GH_M2, __x3 = (x) & GH_M3;				\
	const __u64 *__y = (const __u64 *)((const __u8 *)(y) + (OFF));		\
										\
	z0 ^= (__x0 * __y[0]) ^ (__x1 * __y[3]) ^ (__x2 * __y[2]) ^ (__x3 * __y[1]); \
	z1 ^= (__x0 * __y[1]) ^ (__x1 * __y[0]) ^ (__x2 * __y[3]) ^ (__x3 * __y[2]); \
	z2 ^= (__x0 * __y[2]) ^ (__x1 * __y[1]) ^ (__x2 * __y[0]) ^ (__x3 * __y[3]); \
	z3 ^= (__x0 * __y[3]) ^ (__x1 * __y[2]) ^ (__x2 * __y[1]) ^ (__x3 * __y[0]); \
} while (0)
#endif

static __always_inline __u64 gh_mask(__u64 z0, __u64 z1, __u64 z2, __u64 z3)
{
	return (z0 & GH_M0) | (z1 & GH_M1) | (z2 & GH_M2) | (z3 & GH_M3);
}

/* Partial products of a step built block by block (gcm.h's AAD and tail
 * steps, in per-CPU scratch): for each of the six Karatsuba products (lo,
 * hi, mid, and the same of the bit-reversed words) its four class sums. */
_Static_assert(sizeof(struct espx_ghpow) == 192, "ghash_4's key offsets assume 192-byte powers");

struct gh_acc {
	__u64 z[6][4];
};

static __always_inline void gh_acc_zero(struct gh_acc *a)
{
	__builtin_memset(a, 0, sizeof(*a));
}

/* The six words one block contributes: lo, hi, lo ^ hi, and their bit
 * reversals. */
static __always_inline void gh_words(__u64 *w, __u64 xh, __u64 xl)
{
	__u64 xhr = gh_rev64(xh), xlr = gh_rev64(xl);

	w[0] = xl;
	w[1] = xh;
	w[2] = xl ^ xh;
	w[3] = xlr;
	w[4] = xhr;
	w[5] = xlr ^ xhr;
}

/* a += X * P for the block X = (xh, xl) and one power P of H. */
static __always_inline void gh_acc_block(struct gh_acc *a, __u64 xh, __u64 xl,
					 const struct espx_ghpow *p)
{
	__u64 w[6];

	gh_words(w, xh, xl);
#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u64 z0 = a->z[i][0], z1 = a->z[i][1], z2 = a->z[i][2], z3 = a->z[i][3];

		gh_bmul_raw(z0, z1, z2, z3, w[i], p, i * 32);
		a->z[i][0] = z0;
		a->z[i][1] = z1;
		a->z[i][2] = z2;
		a->z[i][3] = z3;
	}
}

/* The 256-bit product from the six masked Karatsuba products m[0..5],
 * reduced: (yh, yl), in GCM's reflected bit order. */
static __always_inline void gh_reduce(const __u64 *m, __u64 *yh, __u64 *yl)
{
	__u64 z0 = m[0], z1 = m[1], z2 = m[2], z0h = m[3], z1h = m[4], z2h = m[5];
	__u64 v0, v1, v2, v3;

	z2 ^= z0 ^ z1;
	z2h ^= z0h ^ z1h;
	z0h = gh_rev64(z0h) >> 1;
	z1h = gh_rev64(z1h) >> 1;
	z2h = gh_rev64(z2h) >> 1;

	v0 = z0;
	v1 = z0h ^ z2;
	v2 = z1 ^ z2h;
	v3 = z1h;

	v3 = (v3 << 1) | (v2 >> 63);
	v2 = (v2 << 1) | (v1 >> 63);
	v1 = (v1 << 1) | (v0 >> 63);
	v0 = (v0 << 1);

	v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
	v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
	v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
	v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);

	*yh = v3;
	*yl = v2;
}

static __always_inline void gh_acc_reduce(const struct gh_acc *a, __u64 *yh, __u64 *yl)
{
	__u64 m[6];

#pragma unroll
	for (int i = 0; i < 6; i++)
		m[i] = gh_mask(a->z[i][0], a->z[i][1], a->z[i][2], a->z[i][3]);
	gh_reduce(m, yh, yl);
}

/* The block at b (16 bytes as two raw little-endian u64 loads) as
 * big-endian-valued words. */
#define GH_HI(b)	__builtin_bswap64((b)[0])
#define GH_LO(b)	__builtin_bswap64((b)[1])

/* Y = (Y ^ X1) * H^4 ^ X2 * H^3 ^ X3 * H^2 ^ X4 * H for the four blocks at b
 * (64 bytes, raw). Product by product, so each product's four class sums
 * stay in registers across the four blocks. w: room for the blocks' words
 * and the six masked products, 5 x 6 words
 * (gcm.h passes per-CPU scratch: the callbacks' stack adds to the
 * program's, 512 bytes in all). */
static __always_inline void ghash_4(__u64 *yh, __u64 *yl, const __u64 *b,
				    const struct espx_ghkey *k, __u64 (*w)[6])
{
	gh_words(w[0], *yh ^ GH_HI(b), *yl ^ GH_LO(b));
	gh_words(w[1], GH_HI(b + 2), GH_LO(b + 2));
	gh_words(w[2], GH_HI(b + 4), GH_LO(b + 4));
	gh_words(w[3], GH_HI(b + 6), GH_LO(b + 6));
	/* a real loop: one product's code, ~240 instructions, instead of six
	 * copies, so the JIT image stays in the CPU's decoded-uop cache */
#pragma clang loop unroll(disable)
	for (int i = 0; i < 6; i++) {
		const __u8 *kp = (const __u8 *)k + i * 32;
		__u64 z0 = 0, z1 = 0, z2 = 0, z3 = 0;

		/* pow[3 - b].w[i] for block b */
		gh_bmul_raw(z0, z1, z2, z3, w[0][i], kp, 3 * 192);
		gh_bmul_raw(z0, z1, z2, z3, w[1][i], kp, 2 * 192);
		gh_bmul_raw(z0, z1, z2, z3, w[2][i], kp, 1 * 192);
		gh_bmul_raw(z0, z1, z2, z3, w[3][i], kp, 0);
		w[4][i] = gh_mask(z0, z1, z2, z3);
	}
	gh_reduce(w[4], yh, yl);
}

/* The same for n = 1..4 blocks at b (n is a length, not secret). */
static __always_inline void ghash_n(__u64 *yh, __u64 *yl, const __u64 *b, __u32 n,
				    const struct espx_ghkey *k)
{
	struct gh_acc a;
	__u64 xh = *yh, xl = *yl;

	gh_acc_zero(&a);
#pragma unroll
	for (__u32 j = 0; j < 4; j++) {
		if (j < n) {
			gh_acc_block(&a, xh ^ GH_HI(b + 2 * j), xl ^ GH_LO(b + 2 * j),
				     &k->pow[(n - 1 - j) & 3]);
			xh = 0;
			xl = 0;
		}
	}
	gh_acc_reduce(&a, yh, yl);
}

/* Y = (Y ^ X) * H for one block given as big-endian-valued words (key
 * set-up and the test program's J0; the stack stays small). */
static __always_inline void ghash_1w(__u64 *yh, __u64 *yl, __u64 xh, __u64 xl,
				     const struct espx_ghkey *k)
{
	__u64 w[6], m[6];

	gh_words(w, *yh ^ xh, *yl ^ xl);
#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u64 z0 = 0, z1 = 0, z2 = 0, z3 = 0;

		gh_bmul_raw(z0, z1, z2, z3, w[i], k, i * 32);
		m[i] = gh_mask(z0, z1, z2, z3);
		GH_KEEP(m[i]);
	}
	gh_reduce(m, yh, yl);
}

/* The per-power key words: for h = (hh, hl), the words hl, hh, hl ^ hh and
 * their bit reversals, each split into its four masked parts. */
static __always_inline void gh_pow_set(struct espx_ghpow *p, __u64 hh, __u64 hl)
{
	__u64 w[6];

	w[0] = hl;
	w[1] = hh;
	w[2] = hl ^ hh;
	w[3] = gh_rev64(hl);
	w[4] = gh_rev64(hh);
	w[5] = w[3] ^ w[4];
#pragma unroll
	for (int i = 0; i < 6; i++) {
		p->w[i][0] = w[i] & GH_M0;
		p->w[i][1] = w[i] & GH_M1;
		p->w[i][2] = w[i] & GH_M2;
		p->w[i][3] = w[i] & GH_M3;
	}
}

/* Build the key from H (16 bytes, as produced by AES_K(0)): H, H^2, H^3, H^4. */
static __always_inline void ghash_key_init(struct espx_ghkey *k, const __u8 *hbytes)
{
	__u64 hh = __builtin_bswap64(*(const __u64 *)&hbytes[0]);
	__u64 hl = __builtin_bswap64(*(const __u64 *)&hbytes[8]);
	__u64 yh = hh, yl = hl;

	gh_pow_set(&k->pow[0], hh, hl);
#pragma unroll
	for (int i = 1; i < 4; i++) {
		ghash_1w(&yh, &yl, 0, 0, k);	/* y = H^i * H */
		gh_pow_set(&k->pow[i], yh, yl);
	}
}

#endif
