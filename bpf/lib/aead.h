/* SPDX-License-Identifier: GPL-2.0 */
/* The AEAD backend: the kernel's own rfc4106(gcm(aes)) through the kfuncs
 * of the espx_aead module (bpf/kmod/espx_aead.c, include/espx_aead.h).
 *
 * The kfuncs are weak: where the module is not loaded, libbpf leaves them
 * 0, bpf_ksym_exists() is false, and the verifier removes every branch that
 * would call them, so one object runs with and without the module. An SA
 * uses the backend when it has a context (sa->aead, made at install by
 * espx_sa_crypto_init). The backend works on the GCM buffer, with the
 * RFC 4106 header (SPI, [SN high,] SN, IV) put right before it in
 * gcm_scratch.aead_hdr and the ICV right after the data, where transmit
 * wants it. A call the backend cannot take (its vector unit in use at that
 * moment, a context already ended by a concurrent delete) is left to
 * espx's own GCM, which every SA has as well. */
#ifndef ESPX_BPF_AEAD_H
#define ESPX_BPF_AEAD_H

#include "gcm.h"
#include "espx_aead.h"

extern s64 bpf_espx_aead_create(const struct espx_aead_params *p, u32 p__sz) __weak __ksym;
extern int bpf_espx_aead_destroy(u64 handle) __weak __ksym;
extern int bpf_espx_aead_seal(u64 handle, void *buf, u32 buf__sz, u32 aad_len,
			      u32 data_len) __weak __ksym;
extern int bpf_espx_aead_open(u64 handle, void *buf, u32 buf__sz, u32 aad_len,
			      u32 data_len) __weak __ksym;

/* aead_buf()'s answer when espx's own GCM must do it */
#define AEAD_NOT_HERE	1

static __always_inline int aead_usable(const struct espx_sa *sa)
{
	return bpf_ksym_exists(bpf_espx_aead_seal) && sa->aead;
}

/* Seal (decrypt 0) or open s->buf's len bytes with the SA's AEAD context;
 * hdr is the ESP header as on the wire (SPI, SN, IV). Seal leaves the ICV
 * after the data; open wants it there. Returns 0, -ESPX_EBADMSG (open: ICV
 * wrong; the buffer may hold anything then), AEAD_NOT_HERE, or another
 * -errno. */
static __always_inline int aead_buf(struct gcm_scratch *s, const struct espx_sa *sa,
				    const __u64 *hdr, __u32 len, __u32 seq_hi, const int decrypt)
{
	__u32 icv = sa->icv_len, hl, *w = (__u32 *)s->aead_hdr;
	void *p;
	int r;

	barrier_var(len);
	if (len > ESPX_GCM_MAX_DATA || icv > 16)
		return -ESPX_EINVAL;
	/* the header ends where the data starts (aead_hdr is 24 bytes) */
	*(__u64 *)&w[4] = hdr[1];			/* IV */
	if (sa->flags & ESPX_SA_F_ESN) {
		w[1] = (__u32)hdr[0];			/* SPI */
		w[2] = bpf_htonl(seq_hi);
		w[3] = (__u32)(hdr[0] >> 32);		/* SN, low half */
		hl = 20;
		p = &s->aead_hdr[4];
	} else {
		*(__u64 *)&w[2] = hdr[0];		/* SPI, SN */
		hl = 16;
		p = &s->aead_hdr[8];
	}
	if (decrypt)
		r = bpf_espx_aead_open(sa->aead, p, hl + len + icv, hl - ESPX_AEAD_IV_LEN, len);
	else
		r = bpf_espx_aead_seal(sa->aead, p, hl + len + icv, hl - ESPX_AEAD_IV_LEN, len);
	if (r == -ESPX_AEAD_EBADMSG)
		return -ESPX_EBADMSG;
	if (r == -ESPX_AEAD_EBUSY || r == -ESPX_AEAD_ENOENT)
		return AEAD_NOT_HERE;
	return r;
}

/* Seal or open ESP data in the packet through the backend: read data (and
 * ICV) into the buffer, then write the result back. Any answer but 0
 * leaves the packet as it was. */
static __always_inline int aead_crypt(struct bpf_dynptr *pkt, struct gcm_scratch *s,
				      const struct espx_sa *sa, const __u64 *hdr, __u32 data_off,
				      __u32 len, __u32 seq_hi, const int decrypt)
{
	__u32 icv = sa->icv_len, in, out;
	int r;

	barrier_var(len);
	if (len > ESPX_GCM_MAX_DATA || icv > 16)
		return -ESPX_EINVAL;
	in = decrypt ? len + icv : len;
	out = decrypt ? len : len + icv;
	if (in && bpf_dynptr_read(s->buf, in, pkt, data_off, 0))
		return -ESPX_EINVAL;
	r = aead_buf(s, sa, hdr, len, seq_hi, decrypt);
	if (r)
		return r;
	if (out && bpf_dynptr_write(pkt, data_off, s->buf, out, 0))
		return -ESPX_EINVAL;
	return 0;
}

#endif
