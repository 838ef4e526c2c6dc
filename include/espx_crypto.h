/* SPDX-License-Identifier: GPL-2.0 */
/* Requests that user space hands to the SA set-up programs and to the
 * crypto-core test programs (BPF_PROG_TEST_RUN), through one-entry maps. */
#ifndef ESPX_CRYPTO_H
#define ESPX_CRYPTO_H

#include "espx_sa.h"
#include "espx_aead.h"

/* Same layout as the kernel's struct bpf_crypto_params (include/linux/bpf_crypto.h);
 * the BPF side checks the size at compile time. */
struct espx_crypto_params {
	char  type[14];		/* "skcipher" */
	__u8  reserved[2];
	char  algo[128];	/* "ecb(aes)", or "ecb(aes-generic)" */
	__u8  key[256];
	__u32 key_len;
	__u32 authsize;
};

/* Input of espx_sa_crypto_init (syscall program) and espx_sa_ghash_init
 * (tc program): create the contexts for SA `sa` (ecb(aes), and the AEAD
 * backend's unless the SA says otherwise), then build its GHASH table.
 * User space wipes the keys from the map as soon as the contexts exist.
 * With op ESPX_SETUP_AEAD_RELEASE, espx_sa_crypto_init instead ends the
 * AEAD context `handle` (of an SA already gone from the map). */
enum espx_setup_op {
	ESPX_SETUP_CREATE = 0,
	ESPX_SETUP_AEAD_RELEASE = 1,
};

struct espx_sa_setup_req {
	struct espx_sa_key sa;
	struct espx_crypto_params params;
	struct espx_aead_params aead;	/* key || salt, ICV length */
	__u64 handle;		/* ESPX_SETUP_AEAD_RELEASE: what to end */
	__u32 op;		/* enum espx_setup_op */
	__s32 aead_err;		/* out: why an SA on ESPX_BACKEND_AUTO has no
				 * AEAD context (-ENOPKG: no module) */
	__s32 err;		/* out: 0 or -errno */
	__u32 pad;
};

/* Test and benchmark programs (bpf/espx_crypto_test.bpf.c). The test packet
 * is 14 bytes of dummy Ethernet header followed by the data described here. */
#define ESPX_TEST_ETH_LEN	14
#define ESPX_TEST_MAX_IV	64

struct espx_gcm_test_req {
	struct espx_sa_key sa;
	__u32 iv_len;			/* 12: J0 = IV || 1; otherwise J0 = GHASH(IV) */
	__u8  iv[ESPX_TEST_MAX_IV];
	__u32 aad_len;
	__u8  aad[ESPX_GCM_MAX_AAD];
	__u32 data_len;			/* plaintext/ciphertext bytes after the Ethernet header */
	__u32 seq_hi;			/* ESP tests: high 32 bits of the ESN */
	__u32 nblk;			/* benchmarks: blocks to process */
	__s32 ret;			/* out: 0, -EBADMSG on ICV mismatch, other -errno */
	__u8  tag[16];			/* out: computed tag */
};

#endif
