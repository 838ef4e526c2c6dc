/* SPDX-License-Identifier: GPL-2.0 */
/* The two programs that make an SA usable, run by user space with
 * BPF_PROG_TEST_RUN right after it writes the SA's map entry:
 *  1. espx_sa_crypto_init (syscall): create the ecb(aes) context and park it
 *     in the SA as a referenced kptr. Only syscall programs may create
 *     contexts. Then, unless the SA asks for espx's own GCM only, the AEAD
 *     backend's context (aead.h), whose handle goes in sa->aead. The same
 *     program ends such a context when user space has deleted its SA.
 *  2. espx_sa_ghash_init (tc): H = AES_K(0^128) and the GHASH key: H..H^4
 *     pre-split for the constant-time GHASH (ghash.h).
 *     bpf_crypto_encrypt is not callable from syscall programs, hence a tc
 *     program run on a dummy packet.
 * An ecb(aes) context is released by the kernel when its SA's map element
 * goes; an AEAD context is not (the map knows no destructor for a module's
 * object): user space ends it after each delete (platform/sa_install.c). */
#ifndef ESPX_BPF_SA_SETUP_H
#define ESPX_BPF_SA_SETUP_H

#include "maps.h"
#include "gcm.h"
#include "aead.h"

_Static_assert(sizeof(struct espx_crypto_params) == sizeof(struct bpf_crypto_params),
	       "espx_crypto_params must mirror the kernel's bpf_crypto_params");

static __always_inline struct espx_sa_setup_req *sa_setup_req(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&espx_sa_setup, &zero);
}

/* The AEAD backend's context for sa, as sa->backend asks: 0, or the error
 * that refuses the SA (ESPX_BACKEND_AEAD only; on AUTO the SA runs on espx's
 * own GCM). Why there is none goes to req->aead_err either way. */
static __always_inline int sa_aead_init(struct espx_sa_setup_req *req, struct espx_sa *sa)
{
	s64 h;

	req->aead_err = 0;
	if (sa->backend == ESPX_BACKEND_BPF)
		return 0;
	if (!bpf_ksym_exists(bpf_espx_aead_create))
		h = -ESPX_ENOPKG;
	else
		h = bpf_espx_aead_create(&req->aead, sizeof(req->aead));
	if (h > 0) {
		sa->aead = h;
		return 0;
	}
	req->aead_err = (int)h;
	return sa->backend == ESPX_BACKEND_AEAD ? (int)h : 0;
}

SEC("syscall")
int espx_sa_crypto_init(void *arg)
{
	struct espx_sa_setup_req *req = sa_setup_req();
	struct bpf_crypto_ctx *cctx, *old;
	struct espx_sa *sa;
	int err = 0;

	if (!req)
		return 0;
	if (req->op == ESPX_SETUP_AEAD_RELEASE) {
		req->err = bpf_ksym_exists(bpf_espx_aead_destroy) ?
			   bpf_espx_aead_destroy(req->handle) : -ESPX_ENOENT;
		return 0;
	}
	sa = sa_lookup(&req->sa);
	if (!sa) {
		req->err = -ESPX_ENOENT;
		return 0;
	}
	cctx = bpf_crypto_ctx_create((struct bpf_crypto_params *)&req->params,
				     sizeof(struct bpf_crypto_params), &err);
	if (!cctx) {
		req->err = err ? err : -ESPX_EINVAL;
		return 0;
	}
	old = bpf_kptr_xchg(&sa->ctx, cctx);
	if (old)
		bpf_crypto_ctx_release(old);
	req->err = sa_aead_init(req, sa);
	return 0;
}

SEC("tc")
int espx_sa_ghash_init(struct __sk_buff *skb)
{
	struct espx_sa_setup_req *req = sa_setup_req();
	struct gcm_scratch *s = gcm_scratch();
	struct bpf_crypto_ctx *ctx;
	struct bpf_dynptr d;
	struct espx_sa *sa;

	if (!req || !s)
		return 0;
	sa = sa_lookup(&req->sa);
	if (!sa) {
		req->err = -ESPX_ENOENT;
		return 0;
	}
	ctx = sa->ctx;
	if (!ctx) {
		req->err = -ESPX_ENOENT;
		return 0;
	}
	__builtin_memset(s->blk, 0, sizeof(s->blk));
	if (bpf_dynptr_from_mem(s->blk, sizeof(s->blk), 0, &d) ||
	    bpf_crypto_encrypt(ctx, &d, &d, NULL)) {
		req->err = -ESPX_EIO;
		return 0;
	}
	ghash_key_init(&sa->ghkey, s->blk);
	__builtin_memset(s->blk, 0, sizeof(s->blk));	/* H is key material */
	__sync_fetch_and_or(&sa->flags, ESPX_SA_F_READY);
	req->err = 0;
	return 0;
}

/* Take the kernel's sequence state over (struct espx_sa_sync_req). The
 * output number only grows: a compare-and-swap, as the datapath takes
 * numbers with an atomic add outside the lock. The datapath moves oseq at
 * most once per packet, so a few tries succeed; if they all lose, nothing
 * was raised and the caller hears -EAGAIN (it retries, and fails loudly
 * rather than let espx send below the kernel's numbers). */
#define ESPX_SYNC_TRIES	16
#ifndef ESPX_EAGAIN
#define ESPX_EAGAIN	11
#endif

SEC("syscall")
int espx_sa_sync(struct espx_sa_sync_req *req)
{
	struct espx_sa_key key = req->sa;
	__u64 want = req->oseq_min, cur, prev;
	struct espx_sa *sa;
	int i;

	sa = sa_lookup(&key);
	if (!sa) {
		req->err = -ESPX_ENOENT;
		return 0;
	}
	cur = sa->oseq;
	for (i = 0; cur < want; i++) {
		if (i == ESPX_SYNC_TRIES) {
			req->err = -ESPX_EAGAIN;
			return 0;
		}
		prev = __sync_val_compare_and_swap(&sa->oseq, cur, want);
		if (prev == cur)
			break;
		cur = prev;
	}
	/* the last number the datapath took below the new floor */
	req->prev_oseq = cur;
	if (req->seq) {
		bpf_spin_lock(&sa->lock);
		if (req->seq > sa->seq) {
			/* unrolled: the context may only be read at fixed offsets */
#pragma clang loop unroll(full)
			for (i = 0; i < ESPX_REPLAY_WORDS; i++)
				sa->replay[i] = req->replay[i];
			sa->seq = req->seq;
		}
		bpf_spin_unlock(&sa->lock);
	}
	req->err = 0;
	return 0;
}

#endif
