/* SPDX-License-Identifier: GPL-2.0 */
/* ESP with AES-GCM (RFC 4106) on a packet: builds the AAD and nonce from the
 * ESP header and the SA, then seals or opens the payload in place.
 *
 *   esp_off: | SPI (4) | SN (4) | IV (8) | payload+padding+trailer | ICV |
 *
 * AAD is SPI || SN (8 bytes), or SPI || SN_hi || SN_lo with ESN (12 bytes,
 * RFC 4106 s5): SN_hi is never on the wire, the caller supplies it. */
#ifndef ESPX_BPF_ESP_GCM_H
#define ESPX_BPF_ESP_GCM_H

#include "gcm.h"
#include "aead.h"

#define ESP_HDR_LEN	(8 + ESPX_ESP_IV_LEN)

/* The GCM request for the ESP header hdr (SPI, SN, IV as on the wire) at
 * esp_off and data_len bytes after it: AAD, J0, where data and ICV are. */
static __always_inline void esp_gcm_op(struct gcm_op *op, const struct espx_sa *sa,
				       const __u64 *hdr, __u32 esp_off, __u32 data_len,
				       __u32 seq_hi)
{
	__u32 *aad32 = (__u32 *)op->aad;

	op->aad[0] = 0;
	op->aad[1] = 0;
	op->aad[2] = 0;
	op->aad[3] = 0;
	aad32[0] = (__u32)hdr[0];			/* SPI */
	if (sa->flags & ESPX_SA_F_ESN) {
		aad32[1] = bpf_htonl(seq_hi);
		aad32[2] = (__u32)(hdr[0] >> 32);	/* SN low */
		op->aad_len = 12;
	} else {
		aad32[1] = (__u32)(hdr[0] >> 32);
		op->aad_len = 8;
	}
	gcm_j0_rfc4106(op->j0, sa->salt, (const __u8 *)&hdr[1]);
	op->data_off = esp_off + ESP_HDR_LEN;
	op->data_len = data_len;
	op->icv_off = esp_off + ESP_HDR_LEN + data_len;
	op->icv_len = sa->icv_len;
}

static __always_inline int esp_gcm_crypt(struct bpf_dynptr *pkt, const struct espx_sa *sa,
					 __u32 esp_off, __u32 data_len, __u32 seq_hi,
					 const int decrypt)
{
	struct bpf_crypto_ctx *ctx = sa->ctx;
	struct gcm_scratch *s = gcm_scratch();
	__u64 hdr[2];	/* SPI, SN, IV as on the wire */

	if (!ctx || !(sa->flags & ESPX_SA_F_READY))
		return -ESPX_ENOENT;
	if (!s)
		return -ESPX_EIO;
	if (bpf_dynptr_read(hdr, sizeof(hdr), pkt, esp_off, 0))
		return -ESPX_EINVAL;
	if (aead_usable(sa)) {
		int r = aead_crypt(pkt, s, sa, hdr, esp_off + ESP_HDR_LEN, data_len, seq_hi,
				   decrypt);

		if (r != AEAD_NOT_HERE)
			return r;
	}
	esp_gcm_op(&s->op, sa, hdr, esp_off, data_len, seq_hi);
	return gcm_crypt(pkt, ctx, sa, &s->op, decrypt);
}

#endif
