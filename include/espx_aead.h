/* SPDX-License-Identifier: GPL-2.0 */
/* The AEAD backend: what the espx_aead kernel module (bpf/kmod/), the BPF
 * programs that call its kfuncs and user space share.
 *
 * The module keeps the kernel's own rfc4106(gcm(aes)) transforms, one per
 * SA, and names each with a 64-bit handle that is never given out twice, so a
 * handle read from a map entry that is being replaced can only miss, never
 * reach another SA's key. XDP and TC programs seal and open one ESP payload
 * laid out as RFC 4106 has it:
 *
 *   [ AAD: SPI | SEQ (8) or SPI | SEQ_HI | SEQ_LO (12, ESN) ][ IV (8) ]
 *   [ data: data_len bytes ][ ICV: icv_len bytes ]
 *
 * seal encrypts data in place and writes the ICV after it; open checks the
 * ICV and decrypts in place, and leaves the buffer unchanged when the ICV is
 * wrong. Both are synchronous, never sleep and never allocate. */
#ifndef ESPX_AEAD_H
#define ESPX_AEAD_H

#include "espx_common.h"

#define ESPX_AEAD_SALT_LEN	4
#define ESPX_AEAD_KEY_MAX	(32 + ESPX_AEAD_SALT_LEN)
#define ESPX_AEAD_IV_LEN	8
#define ESPX_AEAD_BUF_MAX	8192	/* the most one call covers */

/* bpf_espx_aead_create()'s parameters (a syscall program's context). */
struct espx_aead_params {
	__u8  key[ESPX_AEAD_KEY_MAX];	/* AES key then the 4-byte salt */
	__u32 key_len;			/* 20, 28 or 36: key and salt */
	__u32 icv_len;			/* 8, 12 or 16 */
	__u32 flags;			/* none yet: must be 0 */
	__u32 pad;
};

/* Errors the datapath tells apart (negative returns of seal and open). */
#define ESPX_AEAD_EBUSY		16	/* -EBUSY: the vector unit cannot be
					 * used here now; use espx's own GCM */
#define ESPX_AEAD_EBADMSG	74	/* -EBADMSG: open: the ICV is wrong */
#define ESPX_AEAD_ENOENT	2	/* -ENOENT: no context by that handle */

#endif
