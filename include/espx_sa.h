/* SPDX-License-Identifier: GPL-2.0 */
/* Security Association layout shared by the datapath and user space.
 * Addresses and the SPI are in network byte order; everything else is host
 * order. The map is keyed like the kernel's xfrm_state: (daddr, SPI, family). */
#ifndef ESPX_SA_H
#define ESPX_SA_H

#include "espx_common.h"

/* The crypto context is a referenced kptr on the BPF side; user space sees an
 * opaque 8-byte slot it must never write (map updates skip it). */
#ifdef __bpf__
#define ESPX_KPTR(type) type __attribute__((btf_type_tag("kptr"))) *
#else
#define ESPX_KPTR(type) __u64
#endif

struct espx_sa_key {
	__u32 daddr[4];		/* IPv4 in daddr[0], rest zero */
	__u32 spi;		/* network order */
	__u8  family;		/* AF_INET or AF_INET6 */
	__u8  pad[3];
};

/* One GF(2^128) element as two big-endian-valued 64-bit words. */
struct espx_gh {
	__u64 hi;
	__u64 lo;
};

#define ESPX_SA_F_ESN		(1U << 0)	/* 64-bit sequence numbers (RFC 4303 App. A) */
#define ESPX_SA_F_READY		(1U << 31)	/* crypto context and GHASH table built */

struct espx_sa {
	ESPX_KPTR(struct bpf_crypto_ctx) ctx;	/* ecb(aes) context, owned by the map */
	__u32 flags;				/* ESPX_SA_F_* */
	__u8  salt[ESPX_GCM_SALT_LEN];		/* RFC 4106 nonce salt */
	__u8  key_len;				/* AES key bytes: 16, 24 or 32 */
	__u8  icv_len;				/* 8, 12 or 16 */
	__u8  pad[6];
	/* Shoup 8-bit table of H = AES_K(0^128): htab[b] = b * H (4 KiB).
	 * Built by the espx_sa_ghash_init program, never by user space. */
	struct espx_gh htab[256];
};

#endif
