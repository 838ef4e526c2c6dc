/* SPDX-License-Identifier: GPL-2.0 */
/* The pod fast path (`espx attach VETH --redirect`), for container hosts
 * whose pods reach other nodes through an espx tunnel on the uplink:
 *
 *   receive   a packet decrypted in tunnel mode that the node would forward
 *             (fwd policy passed) to a pod veth espx was told about goes
 *             there from XDP: FIB lookup, TTL, MACs, bpf_redirect_map.
 *   transmit  at the pod veth's tcx ingress, a pod packet that an out
 *             policy protects is encrypted there (the transmit steps of
 *             esp_tx.h) and redirected out of the uplink the SA's peer is
 *             routed through; a GSO super-packet goes to that uplink's
 *             segmenter with its TTL and MACs already set, and its segments
 *             are encrypted at the uplink as usual.
 *
 * Either skips the node's IP stack (routing, netfilter, forwarding), as
 * Cilium's host routing does. Whatever the fast path does not handle is
 * left untouched to the normal path: no route or no neighbour yet, TTL
 * about to expire, too big for the uplink, another outer family, plaintext
 * (no policy), transport mode. Drops are what the normal path would drop:
 * a protected packet without a usable SA, a block policy. */
#ifndef ESPX_BPF_REDIRECT_H
#define ESPX_BPF_REDIRECT_H

#include "esp_rx.h"
#include "esp_tx.h"

#define IP6_HOPS_OFF	7

/* Forwarding's TTL (hop limit) decrement, IPv4 checksum updated as
 * ip_decrease_ttl() does. -1 if it would expire here: the stack answers
 * that (ICMP time exceeded). */
static __always_inline int fwd_ttl(void *data, void *end, __u32 l3_off, __u8 family)
{
	__u8 *p = data + (l3_off & 0x3f);

	if (family == AF_INET) {
		struct iphdr *ip = (void *)p;
		__u32 check;

		if ((void *)(ip + 1) > end || ip->ttl <= 1)
			return -1;
		check = ip->check;
		check += bpf_htons(0x0100);
		ip->check = (__u16)(check + (check >= 0xffff));
		ip->ttl--;
		return 0;
	}
	if ((void *)(p + 40) > end || p[IP6_HOPS_OFF] <= 1)
		return -1;
	p[IP6_HOPS_OFF]--;
	return 0;
}

static __always_inline void fib_set_macs(void *data, void *end, const struct bpf_fib_lookup *fib)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return;
	__builtin_memcpy(eth->h_dest, fib->dmac, 6);
	__builtin_memcpy(eth->h_source, fib->smac, 6);
}

/* Receive: esp_rx() passed the packet; is it a decrypted one for a pod
 * veth with the fast path on? Then into that veth, else XDP_PASS. */
static __always_inline int rx_redirect(struct xdp_md *ctx)
{
	void *data, *end;
	struct rx_scratch *rs;
	struct bpf_fib_lookup *fib;
	const struct flow *f;
	__u32 zero = 0;

	rs = bpf_map_lookup_elem(&espx_rx_scratch, &zero);
	if (!rs || !rs->fwd || rs->ih.l3_off != ETH_HLEN_)
		return XDP_PASS;
	f = &rs->inner;
	fib = &rs->fib;
	fib_prep(fib, f->family, ctx->ingress_ifindex, f->saddr, f->daddr);
	fib->l4_protocol = f->proto;
	fib->tot_len = rs->ih.len;	/* checked against the route's MTU */
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) != BPF_FIB_LKUP_RET_SUCCESS ||
	    !bpf_map_lookup_elem(&espx_redirect, &fib->ifindex))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (fwd_ttl(data, end, ETH_HLEN_, f->family))
		return XDP_PASS;
	fib_set_macs(data, end, fib);
	count_reason(ESPX_DROP_FAST_PATH, ESPX_DIR_IN, rs->ih.len);
	return bpf_redirect_map(&espx_redirect, fib->ifindex, XDP_PASS);
}

/* Headroom the uplink's MTU must leave for ESP, whatever the SA: outer
 * IPv6, UDP, ESP header and IV, padding, trailer, a 16-byte ICV, the
 * late-checksum bytes. Checked before the packet is touched, so that
 * tx_layout never finds it too big after the checksum is final. */
#define POD_TX_ROOM	(40 + 8 + ESP_HDR_LEN + 3 + 2 + 16 + 2)

/* The node's stack would check a pod's plaintext against the fwd policies
 * before forwarding it: so does the fast path. */
static __noinline int pod_fwd_check(struct tx_scratch *ts)
{
	if (!ts)
		return -ESPX_DROP_INTERNAL;
	if (!policy_any(&ts->f, ESPX_POL_FWD, PK_ALL))
		return 0;
	decide(&ts->h, &ts->f, ESPX_POL_FWD, PM_IN_PLAIN, NULL, &ts->fv);
	return ts->fv.action == PV_PASS ? 0 : step_drop(ts->fv.reason);
}

/* Transmit, at a pod veth's tcx ingress: 0 to leave the packet to the
 * stack untouched, STEP_REDIRECT (ts->redirect, ts->neigh), or a drop. */
static __always_inline int pod_tx_steps(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct bpf_fib_lookup *fib = &ts->fib;
	struct espx_sa *sa;
	__u32 *seg, uplink;
	long fr;
	int r;

	r = tx_classify(skb, ts);
	if (r)
		return r;
	r = tx_policy(ts);
	if (r)
		return r;
	sa = sa_lookup(&ts->v.sa);
	if (!sa)
		return -ESPX_DROP_NO_SA_OUT;
	if (sa->mode != ESPX_MODE_TUNNEL || sa->family != ts->h.family || ts->h.frag)
		return STEP_PASS(ESPX_DROP_NONE);
	r = pod_fwd_check(ts);
	if (r)
		return r;
	/* the uplink: where the SA's peer is routed, one espx is attached to */
	fib_prep(fib, sa->family, skb->ifindex, sa->saddr, sa->daddr);
	fr = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);	/* as routed in from the pod */
	if (fr != BPF_FIB_LKUP_RET_SUCCESS && fr != BPF_FIB_LKUP_RET_NO_NEIGH)
		return STEP_PASS(ESPX_DROP_NONE);
	uplink = fib->ifindex;
	seg = bpf_map_lookup_elem(&espx_seg, &uplink);
	ts->mtu = 0;	/* in: 0 = check this packet's own length */
	if (!seg || bpf_check_mtu(skb, uplink, &ts->mtu, POD_TX_ROOM, 0) != BPF_MTU_CHK_RET_SUCCESS)
		return STEP_PASS(ESPX_DROP_NONE);
	if (skb->gso_segs > 1 && fr != BPF_FIB_LKUP_RET_SUCCESS)
		return STEP_PASS(ESPX_DROP_NONE);	/* the stack resolves the neighbour */
	if (fwd_ttl((void *)(long)skb->data, (void *)(long)skb->data_end, ETH_HLEN_,
		    ts->h.family))
		return STEP_PASS(ESPX_DROP_NONE);
	if (skb->gso_segs > 1) {
		/* segmented on the way to the uplink, encrypted there */
		fib_set_macs((void *)(long)skb->data, (void *)(long)skb->data_end, fib);
		ts->redirect = *seg;
		return STEP_REDIRECT;
	}
	r = tx_protect(skb, ts, sa, uplink);
	if (r)
		return r;
	if (fr == BPF_FIB_LKUP_RET_SUCCESS)
		fib_set_macs((void *)(long)skb->data, (void *)(long)skb->data_end, fib);
	else
		ts->neigh = 1;
	ts->redirect = uplink;
	return STEP_REDIRECT;
}

static __always_inline int pod_tx(struct __sk_buff *skb)
{
	struct tx_scratch *ts;
	__u32 zero = 0;
	int r;

	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	ts = bpf_map_lookup_elem(&espx_tx_scratch, &zero);
	if (!ts)
		return TC_ACT_OK;
	ts->redirect = 0;
	ts->neigh = 0;
	r = pod_tx_steps(skb, ts);
	step_account(r, ESPX_DIR_OUT, ts->count_len);
	if (r == STEP_REDIRECT) {
		count_reason(ESPX_DROP_FAST_PATH, ESPX_DIR_OUT, ts->count_len);
		return ts->neigh ? bpf_redirect_neigh(ts->redirect, NULL, 0, 0) :
		       bpf_redirect(ts->redirect, 0);
	}
	return r < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

#endif
