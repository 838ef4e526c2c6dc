/* SPDX-License-Identifier: GPL-2.0 */
/* Receive: ESP (or ESP in UDP, RFC 3948) to the inner packet, at XDP.
 *
 *   [eth][outer IP][UDP 4500]?[SPI SN IV][payload pad padlen nh][ICV]
 *     -> tunnel:    [eth][inner IP ...]
 *     -> transport: [eth][IP, protocol = nh][payload]
 *
 * Order of checks, cheapest first, nothing written before the ICV verified:
 * SA lookup, lengths, replay window, ICV + decrypt, window update, trailer,
 * inner header, lifetime; after decapsulation the SA's selector and the
 * inbound policy of the inner packet (in, or fwd when it is routed on), whose
 * template must name the SA, as xfrm_policy_check() demands.
 *
 * Not ESP: plaintext is decided by the in/fwd policy (a template that is
 * not optional means it had to arrive as ESP), fragments by their
 * datagram's first fragment (frag.h), UDP 500/4500 bypasses policy only
 * between the IKE peers (espx_ike). Fragmented ESP for an SA espx owns is
 * dropped: the kernel would reassemble it and decrypt it with its own copy
 * of the SA, whose replay window espx does not keep. */
#ifndef ESPX_BPF_ESP_RX_H
#define ESPX_BPF_ESP_RX_H

#include "counters.h"
#include "csum.h"
#include "esp_gcm.h"
#include "fib.h"
#include "frag.h"
#include "lifetime.h"
#include "parse.h"
#include "policy.h"
#include "replay.h"
#include "rx_mark.h"

/* Per-packet working state kept off the 512-byte stack, which the GCM
 * callbacks need (per CPU; an XDP program runs to completion on its CPU). */
struct rx_scratch {
	struct flow f;		/* outer packet */
	struct flow inner;	/* tunnel mode: inner packet */
	struct l3 h;
	struct l3 ih;		/* the packet after decapsulation */
	struct pol_verdict v;
	struct pol_sa psa;	/* the decrypting SA, for the inbound check */
	struct bpf_fib_lookup fib;
	struct espx_sa_key key;
	__u8 hdr[40];		/* inner IP header */
	__u8 tmp[64];		/* headers being moved */
	__u64 seq;		/* 64-bit sequence number (ESN inferred) */
	__u32 frame_len;
	__u32 count_len;	/* the bytes a result is counted over */
	__u32 esp_off;
	__u32 data_len;		/* ciphertext: payload, padding, trailer */
	__u32 inner_off;
	__u32 inner_len;
	__u8  encap;
	__u8  pad_len;
	__u8  nh;
	__u8  fwd;		/* decrypted in tunnel mode, fwd policy passed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rx_scratch);
} espx_rx_scratch SEC(".maps");

/* Where the ESP header starts, or 0 if the packet is not ESP (then *ike
 * says whether it is IKE or a NAT-T keepalive by its ports). */
static __always_inline __u32 rx_esp_offset(void *data, void *end, const struct l3 *h,
					   int *encap, int *ike)
{
	struct udphdr *udp;
	__u32 *marker;

	*ike = 0;
	if (h->proto == IPPROTO_ESP_)
		return h->l4_off;
	if (h->proto != IPPROTO_UDP_)
		return 0;
	udp = data + (h->l4_off & 0x3ff);
	if ((void *)(udp + 1) > end)
		return 0;
	if (udp->dest == bpf_htons(IKE_PORT)) {
		*ike = 1;
		return 0;
	}
	if (udp->dest != bpf_htons(NATT_PORT))
		return 0;
	/* RFC 3948 s2.2: a zero "non-ESP marker" is IKE, and a single 0xff
	 * byte is a NAT keepalive; both belong to the IKE daemon. */
	marker = (void *)(udp + 1);
	if (bpf_ntohs(udp->len) <= 8 + 1 || (void *)(marker + 1) > end || *marker == 0) {
		*ike = 1;
		return 0;
	}
	*encap = 1;
	return h->l4_off + sizeof(*udp);
}

/* in or fwd: XFRM checks a packet for this host against the in policies,
 * one it routes on against the fwd policies (ip_forward). */
static __always_inline __u32 rx_policy_dir(struct xdp_md *ctx, struct rx_scratch *rs,
					   const struct flow *f)
{
	struct bpf_fib_lookup *fib = &rs->fib;
	long r;

	fib_prep(fib, f->family, ctx->ingress_ifindex, f->saddr, f->daddr);
	fib->l4_protocol = f->proto;
	r = bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	/* local, forwarding off, no route: not forwarded */
	return r == BPF_FIB_LKUP_RET_SUCCESS || r == BPF_FIB_LKUP_RET_NO_NEIGH ?
	       ESPX_POL_FWD : ESPX_POL_IN;
}

/* Plaintext: the in or fwd policy decides; one that requires ESP means
 * nobody gets in by skipping encryption. Traffic no policy covers pays
 * only the lookups of policy_any(). */
static __noinline int rx_plain(struct xdp_md *ctx, struct rx_scratch *rs)
{
	__u32 dir, known;

	if (!rs)
		return -ESPX_DROP_INTERNAL;
	known = rs->h.ext_bad ? PK_ADDRS : rs->h.noports ? PK_NO_PORTS : PK_ALL;
	if (!policy_any(&rs->f, ESPX_POL_IN, known) && !policy_any(&rs->f, ESPX_POL_FWD, known))
		return STEP_PASS(rs->h.frag ? ESPX_DROP_FRAGMENT : ESPX_DROP_NONE);
	if (rs->h.ext_bad)
		return -ESPX_DROP_EXTHDR;
	dir = rx_policy_dir(ctx, rs, &rs->f);
	decide(&rs->h, &rs->f, dir, PM_IN_PLAIN, NULL, &rs->v);
	if (rs->v.action != PV_PASS)
		return step_drop(rs->v.reason);
	return STEP_PASS(rs->h.frag ? ESPX_DROP_FRAGMENT : ESPX_DROP_NONE);
}

/* Tunnel mode: is what the ESP payload carries one whole IP packet? (The
 * SA's selector and the inbound policy look at it once decapsulated.) */
static __always_inline int rx_inner_ok(struct bpf_dynptr *pkt, struct rx_scratch *rs, __u32 off,
				       __u32 len, __u8 nh, __u16 *eth_proto)
{
	__u8 *hdr = rs->hdr;

	if (nh == IPPROTO_IPIP_) {
		struct iphdr *ip = (void *)hdr;

		if (len < 20 || bpf_dynptr_read(hdr, 20, pkt, off, 0) || ip->version != 4 ||
		    ip->ihl < 5 || bpf_ntohs(ip->tot_len) != len)
			return -ESPX_DROP_MALFORMED;
		*eth_proto = bpf_htons(ETH_P_IP);
	} else if (nh == IPPROTO_IPV6_) {
		struct ipv6hdr *ip6 = (void *)hdr;

		if (len < 40 || bpf_dynptr_read(hdr, 40, pkt, off, 0) || ip6->version != 6 ||
		    bpf_ntohs(ip6->payload_len) + 40 != len)
			return -ESPX_DROP_MALFORMED;
		*eth_proto = bpf_htons(ETH_P_IPV6);
	} else {
		return -ESPX_DROP_NEXT_HDR;
	}
	return 0;
}

/* Move the first n bytes (Ethernet header and tag, in transport mode the
 * IP header too: at most 18 + 40) by delta towards the payload. */
static __always_inline int rx_shift_front(struct xdp_md *ctx, __u8 *tmp, __u32 n, __u32 delta)
{
	n &= 0x3f;
	if (!n || bpf_xdp_load_bytes(ctx, 0, tmp, n) ||
	    bpf_xdp_store_bytes(ctx, delta, tmp, n))
		return -1;
	return 0;
}

/* The steps below are subprograms of their own, run one after another with
 * their state in rx_scratch: the GCM callbacks need their share of BPF's
 * 512-byte stack, and one inlined function would spill past it. Each
 * returns 0 to go on, STEP_PASS or -ESPX_DROP_x (counters.h). */

/* Parse; find ESP (or ESP in UDP) and the key of its SA. */
static __noinline int rx_classify(struct xdp_md *ctx, struct rx_scratch *rs)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int encap = 0, ike = 0;
	__u32 hdr[2], esp_off;

	if (!rs)
		return -ESPX_DROP_INTERNAL;
	__builtin_memset(&rs->h, 0, sizeof(rs->h));
	__builtin_memset(&rs->key, 0, sizeof(rs->key));
	rs->fwd = 0;
	rs->frame_len = end - data;
	rs->count_len = rs->frame_len;
	if (parse_eth(data, end, &rs->h.l3_off, &rs->h.eth_proto))
		return STEP_PASS(ESPX_DROP_NONE);
	if (parse_ip(data, end, &rs->h, &rs->f))
		return STEP_PASS(ESPX_DROP_NONE);	/* not IP, or not ours to judge */
	if (rs->h.l3_off + rs->h.len > rs->frame_len)
		return -ESPX_DROP_TRUNCATED;
	rs->count_len = rs->h.len;
	if (rs->h.later) {
		/* the rest of a datagram: its first fragment's verdict; ESP
		 * or IKE without one cannot complete (the first is judged) */
		if (frag_recall(&rs->h, &rs->f, (__u64)PM_IN_PLAIN << 32, &rs->v))
			return rs->v.action == PV_PASS ? STEP_PASS(ESPX_DROP_FRAGMENT) :
			       step_drop(rs->v.reason);
		if (rs->h.proto == IPPROTO_ESP_ ||
		    (rs->h.proto == IPPROTO_UDP_ &&
		     ike_pair(rs->f.daddr, rs->f.saddr, rs->f.family)))
			return STEP_PASS(ESPX_DROP_FRAGMENT);
		return rx_plain(ctx, rs);
	}
	parse_ports(data, end, &rs->h, &rs->f);
	esp_off = rs->h.ext_bad ? 0 : rx_esp_offset(data, end, &rs->h, &encap, &ike);
	if (ike && ike_pair(rs->f.daddr, rs->f.saddr, rs->f.family)) {
		pv_set(&rs->v, PV_PASS, 0);
		frag_remember(&rs->h, &rs->f, (__u64)PM_IN_PLAIN << 32, &rs->v);
		return STEP_PASS(ESPX_DROP_BYPASS);
	}
	if (!esp_off)
		return rx_plain(ctx, rs);
	if (bpf_xdp_load_bytes(ctx, esp_off, hdr, sizeof(hdr)))
		return -ESPX_DROP_TRUNCATED;
	/* SA by (outer destination, SPI, family), as xfrm_state_lookup */
	__builtin_memcpy(rs->key.daddr, rs->f.daddr, sizeof(rs->key.daddr));
	rs->key.spi = hdr[0];
	rs->key.family = rs->h.family;
	rs->esp_off = esp_off;
	rs->encap = encap;
	rs->seq = bpf_ntohl(hdr[1]);	/* low half; rx_check infers the rest */
	if (rs->h.frag) {
		/* fragmented ESP: ours is dropped (the kernel's copy of the
		 * SA would take it: a replay espx could not see), the rest of
		 * the datagram with it; the kernel's own SAs are its business */
		if (!sa_lookup(&rs->key))
			return STEP_PASS(ESPX_DROP_FRAGMENT);
		pv_set(&rs->v, PV_DROP, ESPX_DROP_ESP_FRAGMENT);
		frag_remember(&rs->h, &rs->f, (__u64)PM_IN_PLAIN << 32, &rs->v);
		return -ESPX_DROP_ESP_FRAGMENT;
	}
	return 0;
}

/* Is the SA usable for this packet, are the lengths sane, is the sequence
 * number inside the window? Nothing has been decrypted yet. */
static __noinline int rx_check(struct rx_scratch *rs, struct espx_sa *sa)
{
	__u32 esp_len;
	int r;

	if (!rs || !sa)
		return -ESPX_DROP_INTERNAL;
	if (!(sa->flags & ESPX_SA_F_READY))
		return -ESPX_DROP_NO_CTX;
	if (lft_expired(sa))
		return -ESPX_DROP_HARD_LIMIT;
	if (rs->encap != !!(sa->flags & ESPX_SA_F_ENCAP))
		return -ESPX_DROP_MALFORMED;
	/* transport mode keeps the IP header; with extension headers the
	 * one naming ESP would have to be rewritten too (not done) */
	if (rs->h.ext && sa->mode == ESPX_MODE_TRANSPORT)
		return -ESPX_DROP_EXTHDR;
	/* ESP starting past the IP packet's end (a UDP length or IPv6
	 * header chain longer than the packet) must not wrap esp_len */
	if (rs->esp_off > rs->h.l3_off + rs->h.len)
		return -ESPX_DROP_TRUNCATED;
	esp_len = rs->h.l3_off + rs->h.len - rs->esp_off;
	if (esp_len < ESP_HDR_LEN + 2 + sa->icv_len)
		return -ESPX_DROP_TRUNCATED;
	rs->data_len = esp_len - ESP_HDR_LEN - sa->icv_len;
	if (rs->data_len > ESPX_GCM_MAX_DATA)
		return -ESPX_DROP_TOO_BIG;
	rs->seq = replay_seq64(sa, (__u32)rs->seq);
	r = replay_check(sa, rs->seq);
	if (r) {
		__sync_fetch_and_add(&sa->replay_drops, 1);
		return r;
	}
	return 0;
}

/* Verify the ICV and decrypt in place; then, and only then, move the
 * window and read the trailer. */
static __noinline int rx_open(struct xdp_md *ctx, struct rx_scratch *rs, struct espx_sa *sa)
{
	struct bpf_dynptr pkt;
	__u8 *trailer;
	int r;

	if (!rs || !sa)
		return -ESPX_DROP_INTERNAL;
	trailer = rs->tmp;
	if (bpf_dynptr_from_xdp(ctx, 0, &pkt))
		return -ESPX_DROP_INTERNAL;
	r = esp_gcm_crypt(&pkt, sa, rs->esp_off, rs->data_len, (__u32)(rs->seq >> 32), 1);
	if (r == -ESPX_EBADMSG) {
		__sync_fetch_and_add(&sa->integrity_failed, 1);
		return -ESPX_DROP_ICV;
	}
	if (r)
		return -ESPX_DROP_CRYPTO;
	r = replay_advance(sa, rs->seq);
	if (r) {	/* another CPU took this number meanwhile */
		__sync_fetch_and_add(&sa->replay_drops, 1);
		return r;
	}
	/* trailer: pad bytes, pad length, next header */
	if (bpf_dynptr_read(trailer, 2, &pkt, rs->esp_off + ESP_HDR_LEN + rs->data_len - 2, 0))
		return -ESPX_DROP_INTERNAL;
	if (trailer[0] + 2 > rs->data_len)
		return -ESPX_DROP_PAD;
	rs->pad_len = trailer[0];
	rs->nh = trailer[1];
	rs->inner_off = rs->esp_off + ESP_HDR_LEN;
	rs->inner_len = rs->data_len - 2 - trailer[0];
	if (sa->mode == ESPX_MODE_TUNNEL) {
		__u16 eth_proto;

		r = rx_inner_ok(&pkt, rs, rs->inner_off, rs->inner_len, rs->nh, &eth_proto);
		if (r)
			return r;
		rs->h.eth_proto = eth_proto;	/* from now on: the inner type */
	} else if (rs->nh == IPPROTO_ESP_ || rs->nh == 59 /* no next header */) {
		return -ESPX_DROP_NEXT_HDR;
	}
	return 0;
}

/* Tunnel: [eth][inner]. Transport: [eth][IP, protocol nh][payload]. */
static __noinline int rx_decap(struct xdp_md *ctx, struct rx_scratch *rs, const struct espx_sa *sa)
{
	__u32 hdrs, cut, tail;

	if (!rs || !sa)
		return -ESPX_DROP_INTERNAL;
	if (sa->mode == ESPX_MODE_TRANSPORT) {
		hdrs = rs->h.l4_off;			/* keep Ethernet and IP */
		if (rs->h.family == AF_INET) {
			struct iphdr *ip = (void *)rs->hdr;

			if (rs->h.l4_off != rs->h.l3_off + 20 ||
			    bpf_xdp_load_bytes(ctx, rs->h.l3_off, ip, sizeof(*ip)))
				return -ESPX_DROP_MALFORMED;
			ip->protocol = rs->nh;
			ip->tot_len = bpf_htons(20 + rs->inner_len);
			ip->check = 0;
			ip->check = ipv4_csum(ip);
			if (bpf_xdp_store_bytes(ctx, rs->h.l3_off, ip, sizeof(*ip)))
				return -ESPX_DROP_INTERNAL;
		} else {
			struct ipv6hdr *ip6 = (void *)rs->hdr;

			if (bpf_xdp_load_bytes(ctx, rs->h.l3_off, ip6, sizeof(*ip6)))
				return -ESPX_DROP_MALFORMED;
			ip6->nexthdr = rs->nh;
			ip6->payload_len = bpf_htons(rs->inner_len);
			if (bpf_xdp_store_bytes(ctx, rs->h.l3_off, ip6, sizeof(*ip6)))
				return -ESPX_DROP_INTERNAL;
		}
	} else {
		hdrs = rs->h.l3_off;			/* keep Ethernet (+ tag) */
		/* the Ethernet type becomes the inner packet's */
		if (bpf_xdp_store_bytes(ctx, rs->h.l3_off - 2, &rs->h.eth_proto, 2))
			return -ESPX_DROP_INTERNAL;
	}
	cut = rs->inner_off - hdrs;
	tail = rs->frame_len - (rs->inner_off + rs->inner_len);
	if (rx_shift_front(ctx, rs->tmp, hdrs, cut))
		return -ESPX_DROP_INTERNAL;
	if (bpf_xdp_adjust_head(ctx, (int)cut))
		return -ESPX_DROP_INTERNAL;
	if (tail && bpf_xdp_adjust_tail(ctx, -(int)tail))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

/* RFC 6040 as the kernel decapsulates (xfrm4/6 remove_tunnel_encap):
 * outer CE marks an ECN-capable inner packet CE unless the SA says noecn;
 * decap-dscp copies the outer DSCP. */
static __always_inline void rx_ecn(void *data, void *end, const struct l3 *h, __u8 otos,
				   const struct espx_sa *sa)
{
	int ce = !(sa->flags & ESPX_SA_F_NOECN) && (otos & 3) == 3;
	int dscp = !!(sa->flags & ESPX_SA_F_DECAP_DSCP);
	__u8 tos, nt;

	if (!ce && !dscp)
		return;
	if (h->family == AF_INET) {
		struct iphdr *ip = data + (h->l3_off & 0xff);
		__u16 old, new;

		if ((void *)(ip + 1) > end)
			return;
		tos = nt = ip->tos;
		if (dscp)
			nt = (otos & ~3) | (nt & 3);
		if (ce && (nt & 3))
			nt |= 3;
		if (nt == tos)
			return;
		/* RFC 1624 incremental update of the header checksum; the
		 * 16-bit word is built, not re-read (aliasing) */
		old = bpf_htons((__u16)(*(__u8 *)ip) << 8 | tos);
		new = bpf_htons((__u16)(*(__u8 *)ip) << 8 | nt);
		ip->tos = nt;
		ip->check = csum_replace2(ip->check, old, new);
	} else {
		__u8 *b = data + (h->l3_off & 0xff);

		if ((void *)(b + 2) > end)
			return;
		tos = nt = (b[0] & 0xf) << 4 | b[1] >> 4;
		if (dscp)
			nt = (otos & ~3) | (nt & 3);
		if (ce && (nt & 3))
			nt |= 3;
		b[0] = (b[0] & 0xf0) | nt >> 4;
		b[1] = (b[1] & 0x0f) | (nt & 0xf) << 4;
	}
}

/* The packet as decapsulated: ECN, then the inbound policy of what it now
 * is (in, or fwd if routed on), whose template must name the SA that
 * decrypted it (xfrm_policy_check). */
static __noinline int rx_inner(struct xdp_md *ctx, struct rx_scratch *rs, const struct espx_sa *sa)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct l3 *h;
	__u32 dir;

	if (!rs || !sa)
		return -ESPX_DROP_INTERNAL;
	h = &rs->ih;
	__builtin_memset(h, 0, sizeof(*h));
	if (parse_eth(data, end, &h->l3_off, &h->eth_proto) ||
	    parse_ip(data, end, h, &rs->inner))
		return -ESPX_DROP_MALFORMED;
	if (sa->mode == ESPX_MODE_TUNNEL)
		rx_ecn(data, end, h, rs->h.tos, sa);
	if (h->ext_bad)
		return -ESPX_DROP_EXTHDR;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	parse_ports(data, end, h, &rs->inner);
	/* what the SA may carry (xfrm_selector_match on every state of the
	 * secpath); a later fragment has no ports: its first was checked */
	if (h->later ? !sel_match_noports(&sa->sel, &rs->inner) : !sel_match(&sa->sel, &rs->inner))
		return -ESPX_DROP_SELECTOR;
	dir = rx_policy_dir(ctx, rs, &rs->inner);
	pol_sa_of(&rs->psa, sa, &rs->key);
	decide(h, &rs->inner, dir, PM_IN_SA, &rs->psa, &rs->v);
	if (rs->v.action != PV_PASS)
		return step_drop(rs->v.reason);
	rs->fwd = dir == ESPX_POL_FWD && sa->mode == ESPX_MODE_TUNNEL;
	return 0;
}

/* The steps in order; the result as counters.h defines it. */
static __always_inline int rx_steps(struct xdp_md *ctx, struct rx_scratch *rs)
{
	struct espx_sa *sa;
	int r;

	r = rx_classify(ctx, rs);
	if (r)
		return r;
	sa = sa_lookup(&rs->key);
	if (!sa)
		return STEP_PASS(ESPX_DROP_NO_SA);	/* the kernel's, maybe */
	r = rx_check(rs, sa);
	if (r)
		return r;
	r = rx_open(ctx, rs, sa);
	if (r)
		return r;
	if (lft_account(sa, &rs->key, rs->inner_len, ESPX_DIR_IN))
		return -ESPX_DROP_HARD_LIMIT;
	r = rx_decap(ctx, rs, sa);
	if (r)
		return r;
	return rx_inner(ctx, rs, sa);
}

static __always_inline int esp_rx(struct xdp_md *ctx)
{
	struct rx_scratch *rs;
	__u32 zero = 0;
	int r;

	rs = bpf_map_lookup_elem(&espx_rx_scratch, &zero);
	if (!rs)
		return XDP_PASS;
	r = rx_steps(ctx, rs);
	step_account(r, ESPX_DIR_IN, rs->count_len);
	if (!r && rs->ih.family == AF_INET6)
		rx_meta_put(ctx);	/* decrypted and accepted: for the kernel's check */
	return r < 0 ? XDP_DROP : XDP_PASS;
}

#endif
