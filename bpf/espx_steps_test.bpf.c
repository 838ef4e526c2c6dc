// SPDX-License-Identifier: GPL-2.0
/* Test programs for the datapath's steps, run with BPF_PROG_TEST_RUN by
 * tests/tools/steps_test.c (never attached). Each runs the production
 * steps of bpf/lib/ (not copies) up to a point and reports the result in
 * espx_step_out; the maps are this object's own (ESPX_NO_PIN), filled by
 * the runner. Verdicts are esp_rx()'s and esp_tx()'s. */
#define ESPX_NO_PIN
#include "lib/compat.h"
#include "lib/maps.h"
/* Not run here (the runner does not load them): its kfunc declarations put
 * the whole struct bpf_crypto_ctx into BTF, which the kptr in espx_sa needs
 * for the object's BTF to load. */
#include "lib/sa_setup.h"
#include "lib/esp_rx.h"
#include "lib/esp_tx.h"
#include "espx_steps_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_step_in);
} espx_step_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_step_out);
} espx_step_out SEC(".maps");

static __always_inline struct espx_step_out *step_out(void)
{
	__u32 zero = 0;
	struct espx_step_out *o = bpf_map_lookup_elem(&espx_step_out, &zero);

	if (o)
		__builtin_memset(o, 0, sizeof(*o));
	return o;
}

static __always_inline void out_parse(struct espx_step_out *o, const struct l3 *h,
				      const struct flow *f)
{
	o->l4_off = h->l4_off;
	o->len = h->len;
	__builtin_memcpy(o->saddr, f->saddr, sizeof(o->saddr));
	__builtin_memcpy(o->daddr, f->daddr, sizeof(o->daddr));
	o->sport = f->sport;
	o->dport = f->dport;
	o->family = h->family;
	o->proto = h->proto;
	o->frag = h->frag;
	o->later = h->later;
	o->ext = h->ext;
	o->ext_bad = h->ext_bad;
	o->noports = h->noports;
}

/* The packet's headers as both directions parse them; -1: not IP. */
static __always_inline int test_parse(struct xdp_md *ctx, struct l3 *h, struct flow *f)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	__builtin_memset(h, 0, sizeof(*h));
	if (parse_eth(data, end, &h->l3_off, &h->eth_proto) || parse_ip(data, end, h, f))
		return -1;
	parse_ports(data, end, h, f);
	return 0;
}

/* parse.h: Ethernet, IP, extension headers, ports. ret -1: not parsed. */
SEC("xdp")
int t_parse(struct xdp_md *ctx)
{
	struct espx_step_out *o = step_out();
	struct flow f;
	struct l3 h;

	if (!o)
		return XDP_ABORTED;
	o->ret = test_parse(ctx, &h, &f);
	if (!o->ret)
		out_parse(o, &h, &f);
	return XDP_PASS;
}

/* selector.h: does the parsed packet fall under espx_step_in.sel? */
SEC("xdp")
int t_selector(struct xdp_md *ctx)
{
	struct espx_step_out *o = step_out();
	struct espx_step_in *in;
	__u32 zero = 0;
	struct flow f;
	struct l3 h;

	in = bpf_map_lookup_elem(&espx_step_in, &zero);
	if (!o || !in)
		return XDP_ABORTED;
	o->ret = test_parse(ctx, &h, &f) ?: sel_match(&in->sel, &f);
	return XDP_PASS;
}

/* replay.h as rx_check and rx_open use it: infer, check, advance. */
SEC("tc")
int t_replay(struct __sk_buff *skb)
{
	struct espx_step_out *o = step_out();
	struct espx_step_in *in;
	struct espx_sa *sa;
	__u32 zero = 0;
	int r;

	in = bpf_map_lookup_elem(&espx_step_in, &zero);
	if (!o || !in)
		return TC_ACT_SHOT;
	sa = sa_lookup(&in->sa);
	if (!sa) {
		o->ret = -ESPX_DROP_NO_SA;
		return TC_ACT_SHOT;
	}
	o->seq = replay_seq64(sa, in->seq_lo);
	r = replay_check(sa, o->seq);
	o->step = 1;
	if (!r) {
		r = replay_advance(sa, o->seq);
		o->step = 2;
	}
	o->ret = r;
	return r < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

/* Receive up to the decryption: rx_classify, the SA, rx_check. */
SEC("xdp")
int t_rx(struct xdp_md *ctx)
{
	struct espx_step_out *o = step_out();
	struct rx_scratch *rs;
	struct espx_sa *sa;
	__u32 zero = 0;
	int r;

	rs = bpf_map_lookup_elem(&espx_rx_scratch, &zero);
	if (!o || !rs)
		return XDP_ABORTED;
	o->step = 1;
	r = rx_classify(ctx, rs);
	if (!r) {
		o->step = 2;
		sa = sa_lookup(&rs->key);
		r = sa ? 0 : STEP_PASS(ESPX_DROP_NO_SA);
		if (sa) {
			o->step = 3;
			r = rx_check(rs, sa);
		}
	}
	o->ret = r;
	o->count_len = rs->count_len;
	o->esp_off = rs->esp_off;
	o->spi = rs->key.spi;
	o->encap = rs->encap;
	return r < 0 ? XDP_DROP : XDP_PASS;
}

/* Transmit up to the encryption: tx_classify, tx_policy, the SA,
 * tx_layout, tx_encap, tx_fill; a "too big" answer as esp_tx() builds it.
 * The packet comes back encapsulated, its payload and trailer in
 * plaintext: what tx_fill put in the GCM buffer, written where tx_seal
 * writes the ciphertext. */
/* tx_fill's buffer into the packet unencrypted. */
static __noinline int t_tx_plain(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct gcm_scratch *s = gcm_scratch();
	struct bpf_dynptr pkt;
	__u32 len;

	if (!ts || !s || bpf_dynptr_from_skb(skb, 0, &pkt))
		return -ESPX_DROP_INTERNAL;
	len = ts->lo.data_len;
	if (len > ESPX_GCM_MAX_DATA ||
	    bpf_dynptr_write(&pkt, ts->lo.esp_off + ESP_HDR_LEN, s->buf, len, 0))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

SEC("tc")
int t_tx(struct __sk_buff *skb)
{
	struct espx_step_out *o = step_out();
	struct tx_scratch *ts;
	struct espx_sa *sa = NULL;
	__u32 zero = 0;
	int r;

	ts = bpf_map_lookup_elem(&espx_tx_scratch, &zero);
	if (!o || !ts)
		return TC_ACT_SHOT;
	o->step = 1;
	r = tx_classify(skb, ts);
	if (!r) {
		o->step = 2;
		r = tx_policy(ts);
	}
	if (!r) {
		o->step = 3;
		sa = sa_lookup(&ts->v.sa);
		r = sa ? 0 : -ESPX_DROP_NO_SA_OUT;
	}
	if (!r && sa) {
		o->step = 4;
		r = tx_layout(skb, ts, sa, 0);
		if (!r) {
			o->step = 5;
			r = tx_encap(skb, ts, sa);
		}
		if (!r) {
			r = tx_fill(skb, ts);
			if (!r)
				r = t_tx_plain(skb, ts);
		}
	}
	o->ret = r;
	o->count_len = ts->count_len;
	o->too_big = ts->too_big;
	o->redirect = ts->redirect;
	if (r == -ESPX_DROP_MTU && ts->too_big)
		return icmp_too_big(skb, &ts->f, &ts->icmp, ts->too_big, NULL) ? TC_ACT_SHOT :
		       TC_ACT_REDIRECT;
	if (r == STEP_REDIRECT)
		return TC_ACT_REDIRECT;
	return r < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
