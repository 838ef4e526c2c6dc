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
#include "lib/ghash_table.h"

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

/* J0 for an IV that is not 96 bits: GHASH_H(IV || 0-pad || 0^64 || [len(IV)]_64),
 * with gcm.h's aggregated steps over a zero-padded copy in scratch. */
static __always_inline int test_j0_from_iv(__u64 *j0, const struct espx_gcm_test_req *r,
					   const struct espx_sa *sa)
{
	struct gcm_loop lc = {};
	__u32 len = r->iv_len, n;
	__u64 *b;

	lc.s = gcm_scratch();
	if (!lc.s)
		return -ESPX_EIO;
	lc.key = &sa->ghkey;
	if (len > ESPX_TEST_MAX_IV)
		len = ESPX_TEST_MAX_IV;
	n = (len + 15) / 16;
	__builtin_memcpy(lc.s->buf, r->iv, ESPX_TEST_MAX_IV);
	if (len & 15)
		gcm_mask_tail((__u64 *)&lc.s->buf[(n - 1) * 16 & 63],
			      (__u64 *)&lc.s->buf[((n - 1) * 16 & 63) + 8], len & 15);
	/* the length block after the IV's room; blocks past n are not hashed */
	b = (__u64 *)&lc.s->buf[ESPX_TEST_MAX_IV];
	b[0] = 0;
	b[1] = bswap64((__u64)len * 8);
	gcm_ghash_run(&lc, offsetof(struct gcm_scratch, buf), n);
	gcm_ghash_run(&lc, offsetof(struct gcm_scratch, buf) + ESPX_TEST_MAX_IV, 1);
	j0[0] = bswap64(lc.yh);
	j0[1] = bswap64(lc.yl);
	return 0;
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
	} else if (test_j0_from_iv(op.j0, r, sa)) {
		return r->ret = -ESPX_EIO;
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

/* GHASH alone, the other half of the floor: req->nblk blocks of scratch
 * (AAD + data + length block, as gcm_crypt hashes them), 4 blocks per
 * aggregated step, the rest in one more step. Output Y in tag. */
static int bench_ghash_cb(__u32 i, void *data)
{
	struct gcm_loop *c = data;

	if (i >= ESPX_GCM_MAX_BLOCKS / 4)
		return 1;
	ghash_4(&c->yh, &c->yl, (const __u64 *)&c->s->buf[i * 64], c->key, c->s->gw);
	return 0;
}

SEC("xdp")
int bench_ghash(struct xdp_md *xctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct gcm_loop lc = {};
	struct espx_sa *sa;
	__u32 n;

	lc.s = gcm_scratch();
	if (!r || !lc.s)
		return XDP_ABORTED;
	sa = sa_lookup(&r->sa);
	if (!sa)
		return XDP_ABORTED;
	n = r->nblk;
	if (n > ESPX_GCM_MAX_BLOCKS)
		n = ESPX_GCM_MAX_BLOCKS;
	lc.key = &sa->ghkey;
	bpf_loop(n / 4, bench_ghash_cb, &lc, 0);
	gcm_ghash_run(&lc, offsetof(struct gcm_scratch, buf) + (n & ~3U) * 16, n & 3);
	*(__u64 *)&r->tag[0] = lc.yh;
	*(__u64 *)&r->tag[8] = lc.yl;
	r->ret = 0;
	return XDP_PASS;
}

/* The former 8-bit table GHASH (ghash_table.h), for comparison in the same
 * run only: its table lives here, built from the test SA's H by
 * bench_ghash_table_init. */
struct bench_htab {
	struct espx_gh t[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_htab);
} espx_bench_htab SEC(".maps");

struct bench_ghtab_ctx {
	__u64 yh, yl;
	struct gcm_scratch *s;
	const struct espx_gh *htab;
};

static __always_inline struct bench_htab *bench_htab(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&espx_bench_htab, &zero);
}

SEC("xdp")
int bench_ghash_table_init(struct xdp_md *xctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct gcm_scratch *s = gcm_scratch();
	struct bench_htab *t = bench_htab();
	struct bpf_crypto_ctx *ctx;
	struct bpf_dynptr d;
	struct espx_sa *sa;

	if (!r || !s || !t)
		return XDP_ABORTED;
	sa = sa_lookup(&r->sa);
	if (!sa)
		return XDP_ABORTED;
	ctx = sa->ctx;
	if (!ctx)
		return XDP_ABORTED;
	__builtin_memset(s->blk, 0, sizeof(s->blk));
	if (bpf_dynptr_from_mem(s->blk, sizeof(s->blk), 0, &d) ||
	    bpf_crypto_encrypt(ctx, &d, &d, NULL)) {
		r->ret = -ESPX_EIO;
		return XDP_PASS;
	}
	ghtab_init(t->t, s->blk);
	__builtin_memset(s->blk, 0, sizeof(s->blk));
	r->ret = 0;
	return XDP_PASS;
}

static int bench_ghtab_cb(__u32 i, void *data)
{
	struct bench_ghtab_ctx *c = data;
	const __u64 *b;

	if (i >= ESPX_GCM_MAX_BLOCKS)
		return 1;
	b = (const __u64 *)&c->s->buf[i * 16];
	ghtab_block(&c->yh, &c->yl, b[0], b[1], c->htab);
	return 0;
}

/* The same blocks as bench_ghash, one per callback as gcm.h did. */
SEC("xdp")
int bench_ghash_table(struct xdp_md *xctx)
{
	struct espx_gcm_test_req *r = test_req();
	struct bench_ghtab_ctx c = {};
	struct bench_htab *t = bench_htab();

	c.s = gcm_scratch();
	if (!r || !c.s || !t)
		return XDP_ABORTED;
	/* the SA lookup bench_ghash does (and gcm.h's table version did),
	 * so that both carry the same fixed cost */
	if (!sa_lookup(&r->sa))
		return XDP_ABORTED;
	c.htab = t->t;
	bpf_loop(r->nblk, bench_ghtab_cb, &c, 0);
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
