/* SPDX-License-Identifier: GPL-2.0 */
/* Known-answer test and benchmark programs for the crypto core, run with
 * BPF_PROG_TEST_RUN only (never attached). Each exists as XDP and TC program
 * to prove the core works from both hooks. Test packet layout:
 *   14 bytes dummy Ethernet | data (GCM tests) or ESP packet (ESP tests). */
#define ESPX_NO_PIN
#include "lib/compat.h"
#include "lib/maps.h"
#include "lib/sa_setup.h"
#include "lib/esp_gcm.h"
#include "lib/replay.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_gcm_test_req);
} espx_test_req SEC(".maps");

static __always_inline struct espx_gcm_test_req *test_req(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&espx_test_req, &zero);
}

/* J0 for an IV that is not 96 bits: GHASH_H(IV || 0-pad || 0^64 || [len(IV)]_64). */
static __always_inline void test_j0_from_iv(__u64 *j0, const struct espx_gcm_test_req *r,
					    const struct espx_sa *sa)
{
	__u32 len = r->iv_len;
	__u64 yh = 0, yl = 0, w0, w1;

	if (len > ESPX_TEST_MAX_IV)
		len = ESPX_TEST_MAX_IV;
#pragma unroll
	for (int i = 0; i < ESPX_TEST_MAX_IV / 16; i++) {
		if (i * 16 < len) {
			w0 = *(const __u64 *)&r->iv[i * 16];
			w1 = *(const __u64 *)&r->iv[i * 16 + 8];
			if (len - i * 16 < 16)
				gcm_mask_tail(&w0, &w1, len - i * 16);
			ghash_block(&yh, &yl, w0, w1, sa->htab);
		}
	}
	yl ^= (__u64)len * 8;
	ghash_mul(&yh, &yl, sa->htab);
	j0[0] = bswap64(yh);
	j0[1] = bswap64(yl);
}

static __always_inline int test_gcm(struct bpf_dynptr *pkt, const int decrypt)
{
	struct espx_gcm_test_req *r = test_req();
	struct gcm_op op;
	struct espx_sa *sa;
	struct bpf_crypto_ctx *ctx;
	int ret;

	if (!r)
		return -ESPX_EIO;
	sa = sa_lookup(&r->sa);
	if (!sa || !(sa->flags & ESPX_SA_F_READY))
		return r->ret = -ESPX_ENOENT;
	ctx = sa->ctx;
	if (!ctx)
		return r->ret = -ESPX_ENOENT;
	if (r->iv_len == 12) {
		__builtin_memcpy(op.j0, r->iv, 12);
		op.j0[1] = (op.j0[1] & 0xffffffffULL) | ((__u64)bpf_htonl(1) << 32);
	} else {
		test_j0_from_iv(op.j0, r, sa);
	}
	__builtin_memcpy(op.aad, r->aad, sizeof(op.aad));
	op.aad_len = r->aad_len;
	op.data_off = ESPX_TEST_ETH_LEN;
	op.data_len = r->data_len;
	op.icv_off = ESPX_TEST_ETH_LEN + r->data_len;
	op.icv_len = 16;
	ret = gcm_crypt(pkt, ctx, sa, &op, decrypt);
	r->ret = ret;
	return ret;
}

static __always_inline int test_esp(struct bpf_dynptr *pkt, const int decrypt)
{
	struct espx_gcm_test_req *r = test_req();
	struct espx_sa *sa;
	int ret;

	if (!r)
		return -ESPX_EIO;
	sa = sa_lookup(&r->sa);
	if (!sa)
		return r->ret = -ESPX_ENOENT;
	ret = esp_gcm_crypt(pkt, sa, ESPX_TEST_ETH_LEN, r->data_len, r->seq_hi, decrypt);
	r->ret = ret;
	return ret;
}

#define TEST_PROG_XDP(name, fn, dec)					\
SEC("xdp")								\
int name(struct xdp_md *ctx)						\
{									\
	struct bpf_dynptr pkt;						\
									\
	if (bpf_dynptr_from_xdp(ctx, 0, &pkt))				\
		return XDP_ABORTED;					\
	return fn(&pkt, dec) ? XDP_DROP : XDP_PASS;			\
}
#define TEST_PROG_TC(name, fn, dec)					\
SEC("tc")								\
int name(struct __sk_buff *skb)						\
{									\
	struct bpf_dynptr pkt;						\
									\
	if (bpf_dynptr_from_skb(skb, 0, &pkt))				\
		return TC_ACT_SHOT;					\
	return fn(&pkt, dec) ? TC_ACT_SHOT : TC_ACT_OK;			\
}

TEST_PROG_XDP(test_gcm_seal_xdp, test_gcm, 0)
TEST_PROG_XDP(test_gcm_open_xdp, test_gcm, 1)
TEST_PROG_TC(test_gcm_seal_tc, test_gcm, 0)
TEST_PROG_TC(test_gcm_open_tc, test_gcm, 1)
TEST_PROG_XDP(test_esp_seal_xdp, test_esp, 0)
TEST_PROG_XDP(test_esp_open_xdp, test_esp, 1)
TEST_PROG_TC(test_esp_seal_tc, test_esp, 0)
TEST_PROG_TC(test_esp_open_tc, test_esp, 1)

/* Benchmarks of the primitives alone, over req->nblk blocks of scratch. */

/* Counter blocks + the single ecb(aes) kfunc call: the AES floor. */
SEC("xdp")
int bench_ecb(struct xdp_md *xctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct gcm_scratch *s = gcm_scratch();
	struct bpf_crypto_ctx *ctx;
	struct gcm_loop lc = {};
	struct espx_sa *sa;

	if (!r || !s)
		return XDP_ABORTED;
	sa = sa_lookup(&r->sa);
	if (!sa)
		return XDP_ABORTED;
	ctx = sa->ctx;
	if (!ctx)
		return XDP_ABORTED;
	lc.s = s;
	lc.ctr0 = 1;
	r->ret = gcm_keystream(ctx, &lc, r->nblk);
	return XDP_PASS;
}

struct bench_ghash_ctx {
	__u64 yh, yl;
	struct gcm_scratch *s;
	const struct espx_gh *htab;
};

static int bench_ghash_cb(__u32 i, void *data)
{
	struct bench_ghash_ctx *c = data;
	const __u64 *b;

	if (i >= ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = (const __u64 *)&c->s->buf[i * 16];
	ghash_block(&c->yh, &c->yl, b[0], b[1], c->htab);
	return 0;
}

/* GHASH alone: the other half of the floor. */
SEC("xdp")
int bench_ghash(struct xdp_md *xctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct bench_ghash_ctx c = {};
	struct espx_sa *sa;

	c.s = gcm_scratch();
	if (!r || !c.s)
		return XDP_ABORTED;
	sa = sa_lookup(&r->sa);
	if (!sa)
		return XDP_ABORTED;
	c.htab = sa->htab;
	bpf_loop(r->nblk, bench_ghash_cb, &c, 0);
	*(__u64 *)&r->tag[0] = c.yh;
	*(__u64 *)&r->tag[8] = c.yl;
	r->ret = 0;
	return XDP_PASS;
}

/* Decrypt benchmark with repeats: the first open replaces the ciphertext, so
 * every run first restores the pristine ESP packet from this per-CPU copy.
 * bench_restore does only that copy, so its cost can be taken out. */
struct bench_pkt {
	__u8 data[16 + ESPX_GCM_MAX_DATA + ESPX_GCM_ICV_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_pkt);
} espx_bench_pkt SEC(".maps");

static __always_inline int bench_restore_pkt(struct bpf_dynptr *pkt, __u32 len)
{
	__u32 zero = 0;
	struct bench_pkt *b = bpf_map_lookup_elem(&espx_bench_pkt, &zero);

	if (!b || len > sizeof(b->data))
		return -ESPX_EINVAL;
	return bpf_dynptr_write(pkt, ESPX_TEST_ETH_LEN, b->data, len, 0);
}

SEC("xdp")
int bench_restore(struct xdp_md *ctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct bpf_dynptr pkt;

	if (!r || bpf_dynptr_from_xdp(ctx, 0, &pkt))
		return XDP_ABORTED;
	r->ret = bench_restore_pkt(&pkt, 16 + r->data_len + ESPX_GCM_ICV_LEN);
	return XDP_PASS;
}

SEC("xdp")
int bench_esp_open(struct xdp_md *ctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct bpf_dynptr pkt;
	int ret;

	if (!r || bpf_dynptr_from_xdp(ctx, 0, &pkt))
		return XDP_ABORTED;
	ret = bench_restore_pkt(&pkt, 16 + r->data_len + ESPX_GCM_ICV_LEN);
	if (!ret)
		ret = test_esp(&pkt, 1);
	r->ret = ret;
	return XDP_PASS;
}

/* Empty program: what BPF_PROG_TEST_RUN's own timing costs per call. */
SEC("xdp")
int bench_nop(struct xdp_md *xctx)
{
	return XDP_PASS;
}

/* Anti-replay as esp_rx uses it, on the test SA: req->seq_hi carries the
 * received low 32 bits; out: req->ret = 0 (accepted) or the drop reason,
 * tag[0..7] = the inferred 64-bit sequence number. */
SEC("tc")
int test_replay(struct __sk_buff *skb)
{
	struct espx_gcm_test_req *r = test_req();
	struct espx_sa *sa;
	__u64 seq;
	int v;

	if (!r)
		return 0;
	sa = sa_lookup(&r->sa);
	if (!sa) {
		r->ret = -ESPX_ENOENT;
		return 0;
	}
	seq = replay_seq64(sa, r->seq_hi);
	v = replay_check(sa, seq);
	if (!v)
		v = replay_advance(sa, seq);
	r->ret = -v;	/* the harness reads the reason itself */
	__builtin_memcpy(r->tag, &seq, sizeof(seq));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
