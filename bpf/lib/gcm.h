/* SPDX-License-Identifier: GPL-2.0 */
/* AES-GCM (NIST SP 800-38D) on packet data, for ESP (RFC 4106).
 *
 * The kernel's BPF crypto kfuncs offer only block-cipher modes (ecb, cbc),
 * so GCM is assembled here: the counter blocks J0, J0+1, ... are written to
 * per-CPU scratch and encrypted with ONE bpf_crypto_encrypt() call on an
 * ecb(aes) context (a kfunc call costs ~200 ns, one per block would dominate),
 * the keystream is XORed into the data and GHASH (ghash.h, constant time)
 * runs over AAD, ciphertext and the length block.
 *
 * The data runs in bpf_loop() callbacks of 4 blocks (64 bytes) each: XOR
 * with the keystream and one aggregated GHASH step (Y = (Y^X1)*H^4 ^ .. ^
 * X4*H, a single reduction and the four products independent, so the CPU
 * overlaps them). A callback is verified once, where unrolled
 * or plain bounded loops over 256 blocks blow the verifier's instruction
 * budget. The AAD and the last (nblk mod 4) blocks with the length block
 * are hashed in one more aggregated step each, one block per callback of
 * gcm_ghash_cb. The bytes after the data in the last partial block are made
 * zero in both the data and the keystream first, so no block is masked
 * inside the loops. */
#ifndef ESPX_BPF_GCM_H
#define ESPX_BPF_GCM_H

#include "compat.h"
#include "ghash.h"
#include "espx_crypto.h"

/* What to transform: data_len bytes at data_off in the packet; the ICV is
 * read from or written to icv_off. J0 (16 bytes) and the AAD come from the
 * caller. */
struct gcm_op {
	__u64 j0[2];				/* bytes as on the wire */
	__u64 aad[ESPX_GCM_MAX_AAD / 8];
	__u32 aad_len;
	__u32 data_off;
	__u32 data_len;
	__u32 icv_off;
	__u32 icv_len;
};

/* Counter blocks written per gcm_ctr_fill_cb: a bpf_loop callback costs a
 * call and a return (about 13 ns on the AMD bench host, where returns go
 * through the SRSO thunk), more than the stores of one block. */
#define GCM_FILL	8

struct gcm_scratch {
	/* J0.. then E_K(J0..); GCM_FILL - 1 blocks more for the last
	 * gcm_ctr_fill_cb, which fills whole groups */
	__u8 ctr[(ESPX_GCM_MAX_BLOCKS + GCM_FILL) * 16];
	__u8 aead_hdr[24];	/* the AEAD backend's RFC 4106 header, ending
				 * where buf starts (aead.h) */
	__u8 buf[ESPX_GCM_MAX_DATA + 16];		/* data being transformed,
							 * then the length block */
	__u8 aad[ESPX_GCM_MAX_AAD];
	__u8 blk[16];					/* H, J0 derivation */
	struct gh_acc acc;		/* gcm_ghash_cb's partial products */
	__u64 gw[5][6];			/* ghash_4's block words, products */
	struct gcm_op op;		/* ESP's request, off the 512-byte stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gcm_scratch);
} espx_gcm_scratch SEC(".maps");

/* State shared with the bpf_loop callbacks. */
struct gcm_loop {
	__u64 yh, yl;		/* GHASH accumulator */
	__u64 j0w0;		/* J0 bytes 0..7 (raw) */
	__u32 j0w1;		/* J0 bytes 8..11 (raw) */
	__u32 ctr0;		/* J0 counter word, host order */
	__u32 len;		/* data bytes */
	__u32 gh_off;		/* gcm_ghash_cb: first block, offset in *s */
	__u32 gh_n;		/* gcm_ghash_cb: blocks in this step, 1..4 */
	__u32 pad;
	struct gcm_scratch *s;
	const struct espx_ghkey *key;
};

static __always_inline struct gcm_scratch *gcm_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&espx_gcm_scratch, &zero);
}

/* Blocks GCM_FILL * i .. GCM_FILL * i + GCM_FILL - 1: block k holds J0
 * with its 32-bit counter advanced by k (inc32). */
static int gcm_ctr_fill_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u32 k = i * GCM_FILL;
	__u8 *b;

	barrier_var(k);
	if (k > ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = &c->s->ctr[k * 16];
#pragma unroll
	for (int j = 0; j < GCM_FILL; j++) {
		*(__u64 *)(b + j * 16) = c->j0w0;
		*(__u32 *)(b + j * 16 + 8) = c->j0w1;
		*(__u32 *)(b + j * 16 + 12) = bpf_htonl(c->ctr0 + k + j);
	}
	return 0;
}

/* Zero the bytes at and beyond r (1..15) of a block held as two raw words. */
static __always_inline void gcm_mask_tail(__u64 *w0, __u64 *w1, __u32 r)
{
	if (r < 8) {
		*w0 &= (1ULL << (8 * r)) - 1;
		*w1 = 0;
	} else if (r == 8) {
		*w1 = 0;
	} else {
		*w1 &= (1ULL << (8 * (r - 8))) - 1;
	}
}

/* One block of an aggregated GHASH step over gh_n blocks at gh_off: block
 * j is multiplied by H^(gh_n - j), the state Y folded into block 0, and the
 * partial products summed in s->acc (gcm_ghash_run reduces them). */
static int gcm_ghash_cb(__u32 j, void *data)
{
	struct gcm_loop *c = data;
	const __u64 *b;
	__u32 off = c->gh_off + j * 16;

	if (j >= 4 || off > sizeof(struct gcm_scratch) - 16)
		return 1;
	b = (const __u64 *)((__u8 *)c->s + off);
	gh_acc_block(&c->s->acc, GH_HI(b) ^ c->yh, GH_LO(b) ^ c->yl,
		     &c->key->pow[(c->gh_n - 1 - j) & 3]);
	c->yh = 0;
	c->yl = 0;
	return 0;
}

/* Y = (Y ^ X1) * H^n ^ ... ^ Xn * H over n = 0..4 blocks at byte `off` of
 * the scratch. */
static __always_inline void gcm_ghash_run(struct gcm_loop *lc, __u32 off, __u32 n)
{
	if (!n)
		return;
	gh_acc_zero(&lc->s->acc);
	lc->gh_off = off;
	lc->gh_n = n;
	bpf_loop(n, gcm_ghash_cb, lc, 0);
	gh_acc_reduce(&lc->s->acc, &lc->yh, &lc->yl);
}

/* Encrypt 4 blocks: C_i = P_i ^ E_K(J0 + 1 + i), then GHASH the four C_i
 * in one aggregated step. */
static int gcm_enc4_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u64 *b, *ks;

	if (i >= ESPX_GCM_MAX_BLOCKS / 4)
		return 1;
	b = (__u64 *)&c->s->buf[i * 64];
	ks = (__u64 *)&c->s->ctr[16 + i * 64];
#pragma unroll
	for (int j = 0; j < 8; j++)
		b[j] ^= ks[j];
	ghash_4(&c->yh, &c->yl, b, c->key, c->s->gw);
	return 0;
}

/* Decrypt 4 blocks: GHASH the four C_i, then P_i = C_i ^ E_K(J0 + 1 + i). */
static int gcm_dec4_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u64 *b, *ks;

	if (i >= ESPX_GCM_MAX_BLOCKS / 4)
		return 1;
	b = (__u64 *)&c->s->buf[i * 64];
	ks = (__u64 *)&c->s->ctr[16 + i * 64];
	ghash_4(&c->yh, &c->yl, b, c->key, c->s->gw);
#pragma unroll
	for (int j = 0; j < 8; j++)
		b[j] ^= ks[j];
	return 0;
}

/* XOR the keystream into the r = 0..3 data blocks from block `first`. */
static __always_inline void gcm_xor_tail(struct gcm_scratch *s, __u32 first, __u32 r)
{
#pragma unroll
	for (__u32 j = 0; j < 3; j++) {
		/* first + j < nblk <= 256: the mask only shows the verifier */
		__u32 k = (first + j) & (ESPX_GCM_MAX_BLOCKS - 1);
		__u64 *b = (__u64 *)&s->buf[k * 16];
		__u64 *ks = (__u64 *)&s->ctr[16 + k * 16];

		if (j < r) {
			b[0] ^= ks[0];
			b[1] ^= ks[1];
		}
	}
}

/* Keystream for `nblk` data blocks plus E_K(J0), in one kfunc call. */
static __always_inline int gcm_keystream(struct bpf_crypto_ctx *ctx, struct gcm_loop *lc,
					 __u32 nblk)
{
	struct bpf_dynptr d;
	__u32 n = nblk + 1;

	barrier_var(n);	/* keep this check: callers' checks may not survive for the verifier */
	if (n > ESPX_GCM_MAX_BLOCKS + 1)
		return -ESPX_E2BIG;
	bpf_loop((n + GCM_FILL - 1) / GCM_FILL, gcm_ctr_fill_cb, lc, 0);
	if (bpf_dynptr_from_mem(lc->s->ctr, n * 16, 0, &d))
		return -ESPX_EIO;
	if (bpf_crypto_encrypt(ctx, &d, &d, NULL))
		return -ESPX_EIO;
	return 0;
}

/* GHASH over up to two AAD blocks, zero padded: ESP's one block (8 or 12
 * bytes) as a single product in registers, two (test vectors) in one
 * aggregated step. */
static __always_inline void gcm_hash_aad(struct gcm_loop *lc, const struct gcm_op *op)
{
	struct gcm_scratch *s = lc->s;
	__u32 alen = op->aad_len;

	if (!alen)
		return;
	if (alen > ESPX_GCM_MAX_AAD)
		alen = ESPX_GCM_MAX_AAD;
	__builtin_memcpy(s->aad, op->aad, ESPX_GCM_MAX_AAD);
	if (alen < 16) {
		gcm_mask_tail((__u64 *)&s->aad[0], (__u64 *)&s->aad[8], alen);
	} else if (alen < 32) {
		gcm_mask_tail((__u64 *)&s->aad[16], (__u64 *)&s->aad[24], alen - 16);
	}
	if (alen <= 16)
		ghash_1w(&lc->yh, &lc->yl, GH_HI((__u64 *)s->aad), GH_LO((__u64 *)s->aad), lc->key);
	else
		gcm_ghash_run(lc, offsetof(struct gcm_scratch, aad), 2);
}

/* Zero s->buf's block holding byte `at` (at < ESPX_GCM_MAX_DATA). */
static __always_inline void gcm_zero_block(struct gcm_scratch *s, __u32 at)
{
	__u32 b = at & (ESPX_GCM_MAX_DATA - 16);

	*(__u64 *)&s->buf[b] = 0;
	*(__u64 *)&s->buf[b + 8] = 0;
}

/* GCM in place on s->buf: seal (decrypt == 0) or open (decrypt == 1)
 * op->data_len bytes there, the rest of their last block zero (the caller
 * filled the buffer, gcm_zero_block). The tag, as on the wire, into
 * tag[2]; op->icv_off is not used. */
static __always_inline int gcm_buf(struct gcm_scratch *s, struct bpf_crypto_ctx *ctx,
				   const struct espx_sa *sa, const struct gcm_op *op, __u64 *tag,
				   const int decrypt)
{
	struct gcm_loop lc;
	__u32 len = op->data_len, nblk, rem, r, first;
	__u64 *lb;
	int err;

	barrier_var(len);
	if (len > ESPX_GCM_MAX_DATA)
		return -ESPX_E2BIG;
	nblk = (len + 15) / 16;

	lc.yh = 0;
	lc.yl = 0;
	lc.j0w0 = op->j0[0];
	lc.j0w1 = (__u32)op->j0[1];
	lc.ctr0 = bpf_ntohl((__u32)(op->j0[1] >> 32));
	lc.len = len;
	lc.s = s;
	lc.key = &sa->ghkey;

	err = gcm_keystream(ctx, &lc, nblk);
	if (err)
		return err;
	gcm_hash_aad(&lc, op);
	rem = len & 15;
	if (rem) {
		/* the keystream past the data is zero too, so ciphertext
		 * blocks are zero padded as GHASH wants them */
		__u32 last = (nblk - 1) & (ESPX_GCM_MAX_BLOCKS - 1);

		gcm_mask_tail((__u64 *)&s->ctr[16 + last * 16],
			      (__u64 *)&s->ctr[16 + last * 16 + 8], rem);
	}
	bpf_loop(nblk / 4, decrypt ? gcm_dec4_cb : gcm_enc4_cb, &lc, 0);
	/* the last nblk mod 4 blocks and the length block (bit lengths of
	 * AAD and data), hashed in one step */
	r = nblk & 3;
	first = nblk - r;
	if (!decrypt)
		gcm_xor_tail(s, first, r);
	lb = (__u64 *)&s->buf[nblk * 16];
	lb[0] = bswap64((__u64)op->aad_len * 8);
	lb[1] = bswap64((__u64)len * 8);
	gcm_ghash_run(&lc, offsetof(struct gcm_scratch, buf) + first * 16, r + 1);
	if (decrypt)
		gcm_xor_tail(s, first, r);
	/* T = GHASH ^ E_K(J0) */
	tag[0] = bswap64(lc.yh) ^ *(__u64 *)&s->ctr[0];
	tag[1] = bswap64(lc.yl) ^ *(__u64 *)&s->ctr[8];
	return 0;
}

/* Seal (decrypt == 0) or open (decrypt == 1) op->data_len bytes of the packet
 * in place. Open verifies the ICV before anything is written: on mismatch it
 * returns -EBADMSG and the packet is untouched. */
static __always_inline int gcm_crypt(struct bpf_dynptr *pkt, struct bpf_crypto_ctx *ctx,
				     const struct espx_sa *sa, const struct gcm_op *op,
				     const int decrypt)
{
	struct gcm_scratch *s = gcm_scratch();
	__u32 len = op->data_len, icv_len = op->icv_len;
	__u64 tag[2], icv[2], diff;
	int err;

	if (!s)
		return -ESPX_EIO;
	barrier_var(len);
	if (len > ESPX_GCM_MAX_DATA)
		return -ESPX_E2BIG;
	if (icv_len != 8 && icv_len != 12 && icv_len != 16)
		return -ESPX_EINVAL;
	if (len & 15)
		gcm_zero_block(s, len - 1);
	if (len && bpf_dynptr_read(s->buf, len, pkt, op->data_off, 0))
		return -ESPX_EINVAL;
	err = gcm_buf(s, ctx, sa, op, tag, decrypt);
	if (err)
		return err;

	if (decrypt) {
		icv[0] = 0;
		icv[1] = 0;
		if (bpf_dynptr_read(icv, icv_len, pkt, op->icv_off, 0))
			return -ESPX_EINVAL;
		/* compare without early exit; truncated ICVs compare their prefix */
		__u64 t1 = tag[1];

		/* icv[] was zeroed, so truncated ICVs compare their prefix */
		if (icv_len == 8)
			t1 = 0;
		else if (icv_len == 12)
			t1 &= 0xffffffffULL;	/* little-endian: first 4 bytes */
		diff = (icv[0] ^ tag[0]) | (icv[1] ^ t1);
		if (diff)
			return -ESPX_EBADMSG;
	}
	if (len && bpf_dynptr_write(pkt, op->data_off, s->buf, len, 0))
		return -ESPX_EINVAL;
	if (!decrypt && bpf_dynptr_write(pkt, op->icv_off, tag, icv_len, 0))
		return -ESPX_EINVAL;
	return 0;
}

/* RFC 4106: J0 = salt(4) || IV(8) || 0x00000001. */
static __always_inline void gcm_j0_rfc4106(__u64 *j0, const __u8 *salt, const __u8 *iv)
{
	__u8 *b = (__u8 *)j0;

	__builtin_memcpy(b, salt, 4);
	__builtin_memcpy(b + 4, iv, 8);
	j0[1] = (j0[1] & 0xffffffffULL) | ((__u64)bpf_htonl(1) << 32);
}

#endif
