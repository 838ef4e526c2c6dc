/* SPDX-License-Identifier: GPL-2.0 */
/* AES-GCM (NIST SP 800-38D) on packet data, for ESP (RFC 4106).
 *
 * The kernel's BPF crypto kfuncs offer only block-cipher modes (ecb, cbc),
 * so GCM is assembled here: the counter blocks J0, J0+1, ... are written to
 * per-CPU scratch and encrypted with ONE bpf_crypto_encrypt() call on an
 * ecb(aes) context (a kfunc call costs ~200 ns, one per block would dominate),
 * the keystream is XORed into the data and GHASH runs over AAD, ciphertext and
 * the length block with the SA's 8-bit table.
 *
 * Per-block work runs in bpf_loop() callbacks: the callback is verified once,
 * where unrolled or plain bounded loops over 256 blocks blow the verifier's
 * instruction budget. */
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

struct gcm_scratch {
	__u8 ctr[(ESPX_GCM_MAX_BLOCKS + 1) * 16];	/* J0.. then E_K(J0..) */
	__u8 buf[ESPX_GCM_MAX_DATA];			/* data being transformed */
	__u8 aad[ESPX_GCM_MAX_AAD];
	__u8 blk[16];					/* H, J0 derivation */
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
	__u32 pad;
	struct gcm_scratch *s;
	const struct espx_gh *htab;
};

static __always_inline struct gcm_scratch *gcm_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&espx_gcm_scratch, &zero);
}

/* Block i holds J0 with its 32-bit counter advanced by i (inc32). */
static int gcm_ctr_fill_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u8 *b;

	if (i > ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = &c->s->ctr[i * 16];
	*(__u64 *)b = c->j0w0;
	*(__u32 *)(b + 8) = c->j0w1;
	*(__u32 *)(b + 12) = bpf_htonl(c->ctr0 + i);
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

/* Encrypt: C_i = P_i ^ E_K(J0 + 1 + i), then GHASH the (masked) C_i. */
static int gcm_enc_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u64 *b, *ks, w0, w1;
	__u32 rem;

	if (i >= ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = (__u64 *)&c->s->buf[i * 16];
	ks = (__u64 *)&c->s->ctr[16 + i * 16];
	w0 = b[0] ^ ks[0];
	w1 = b[1] ^ ks[1];
	rem = c->len - i * 16;
	if (rem < 16)
		gcm_mask_tail(&w0, &w1, rem);
	b[0] = w0;
	b[1] = w1;
	ghash_block(&c->yh, &c->yl, w0, w1, c->htab);
	return 0;
}

/* Decrypt: GHASH the (masked) C_i, then P_i = C_i ^ E_K(J0 + 1 + i). */
static int gcm_dec_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;
	__u64 *b, *ks, w0, w1;
	__u32 rem;

	if (i >= ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = (__u64 *)&c->s->buf[i * 16];
	ks = (__u64 *)&c->s->ctr[16 + i * 16];
	w0 = b[0];
	w1 = b[1];
	rem = c->len - i * 16;
	if (rem < 16)
		gcm_mask_tail(&w0, &w1, rem);
	ghash_block(&c->yh, &c->yl, w0, w1, c->htab);
	b[0] = w0 ^ ks[0];
	b[1] = w1 ^ ks[1];
	return 0;
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
	bpf_loop(n, gcm_ctr_fill_cb, lc, 0);
	if (bpf_dynptr_from_mem(lc->s->ctr, n * 16, 0, &d))
		return -ESPX_EIO;
	if (bpf_crypto_encrypt(ctx, &d, &d, NULL))
		return -ESPX_EIO;
	return 0;
}

/* GHASH over up to two AAD blocks, zero padded; straight-line code. */
static __always_inline void gcm_hash_aad(struct gcm_loop *lc, const struct gcm_op *op)
{
	struct gcm_scratch *s = lc->s;
	__u32 alen = op->aad_len;

	if (!alen)
		return;
	if (alen > ESPX_GCM_MAX_AAD)
		alen = ESPX_GCM_MAX_AAD;
	__builtin_memcpy(s->aad, op->aad, ESPX_GCM_MAX_AAD);
	if (alen < 16)
		gcm_mask_tail((__u64 *)&s->aad[0], (__u64 *)&s->aad[8], alen);
	ghash_block(&lc->yh, &lc->yl, *(__u64 *)&s->aad[0], *(__u64 *)&s->aad[8], lc->htab);
	if (alen > 16) {
		__u64 w0 = *(__u64 *)&s->aad[16], w1 = *(__u64 *)&s->aad[24];

		if (alen < 32)
			gcm_mask_tail(&w0, &w1, alen - 16);
		ghash_block(&lc->yh, &lc->yl, w0, w1, lc->htab);
	}
}

/* Seal (decrypt == 0) or open (decrypt == 1) op->data_len bytes of the packet
 * in place. Open verifies the ICV before anything is written: on mismatch it
 * returns -EBADMSG and the packet is untouched. */
static __always_inline int gcm_crypt(struct bpf_dynptr *pkt, struct bpf_crypto_ctx *ctx,
				     const struct espx_sa *sa, const struct gcm_op *op,
				     const int decrypt)
{
	struct gcm_scratch *s = gcm_scratch();
	struct gcm_loop lc;
	__u32 len = op->data_len, nblk, icv_len = op->icv_len;
	__u64 tag[2], icv[2], diff;
	int err;

	if (!s)
		return -ESPX_EIO;
	barrier_var(len);
	if (len > ESPX_GCM_MAX_DATA)
		return -ESPX_E2BIG;
	if (icv_len != 8 && icv_len != 12 && icv_len != 16)
		return -ESPX_EINVAL;
	nblk = (len + 15) / 16;

	lc.yh = 0;
	lc.yl = 0;
	lc.j0w0 = op->j0[0];
	lc.j0w1 = (__u32)op->j0[1];
	lc.ctr0 = bpf_ntohl((__u32)(op->j0[1] >> 32));
	lc.len = len;
	lc.s = s;
	lc.htab = sa->htab;

	err = gcm_keystream(ctx, &lc, nblk);
	if (err)
		return err;
	gcm_hash_aad(&lc, op);
	if (len && bpf_dynptr_read(s->buf, len, pkt, op->data_off, 0))
		return -ESPX_EINVAL;
	bpf_loop(nblk, decrypt ? gcm_dec_cb : gcm_enc_cb, &lc, 0);
	/* length block: bit lengths of AAD and data */
	lc.yh ^= (__u64)op->aad_len * 8;
	lc.yl ^= (__u64)len * 8;
	ghash_mul(&lc.yh, &lc.yl, lc.htab);
	/* T = GHASH ^ E_K(J0) */
	tag[0] = bswap64(lc.yh) ^ *(__u64 *)&s->ctr[0];
	tag[1] = bswap64(lc.yl) ^ *(__u64 *)&s->ctr[8];

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
