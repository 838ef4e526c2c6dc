/* SPDX-License-Identifier: GPL-2.0 */
/* Receive: ESP (or ESP in UDP, RFC 3948) to the inner packet, at XDP.
 *
 *   [eth][outer IP][UDP 4500]?[SPI SN IV][payload pad padlen nh][ICV]
 *     -> tunnel:    [eth][inner IP ...]
 *     -> transport: [eth][IP, protocol = nh][payload]
 *
 * Order of checks, cheapest first, nothing written before the ICV verified:
 * SA lookup, lengths, replay window, ICV + decrypt, window update, trailer,
 * inner header and selector, lifetime. */
#ifndef ESPX_BPF_ESP_RX_H
#define ESPX_BPF_ESP_RX_H

#include "counters.h"
#include "esp_gcm.h"
#include "lifetime.h"
#include "parse.h"
#include "policy.h"
#include "replay.h"

/* Per-packet working state kept off the 512-byte stack, which the GCM
 * callbacks need (per CPU; an XDP program runs to completion on its CPU). */
struct rx_scratch {
	struct flow f;		/* outer packet */
	struct flow inner;	/* tunnel mode: inner packet */
	struct l3 h;
	struct espx_sa_key key;
	__u8 hdr[40];		/* inner IP header */
	__u8 tmp[64];		/* headers being moved */
	__u64 seq;		/* 64-bit sequence number (ESN inferred) */
	__u32 frame_len;
	__u32 esp_off;
	__u32 data_len;		/* ciphertext: payload, padding, trailer */
	__u32 inner_off;
	__u32 inner_len;
	__u8  encap;
	__u8  pad_len;
	__u8  nh;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rx_scratch);
} espx_rx_scratch SEC(".maps");

#define RX_DROP(r, len)	({ count_reason((r), ESPX_DIR_IN, (len)); XDP_DROP; })
#define RX_PASS(r, len)	({ count_reason((r), ESPX_DIR_IN, (len)); XDP_PASS; })

/* Where the ESP header starts, or 0 if the packet is not ESP for us. */
static __always_inline __u32 rx_esp_offset(struct xdp_md *ctx, const struct l3 *h,
					  int *encap, int *verdict)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct udphdr *udp;
	__u32 *marker;

	*verdict = -1;
	if (h->proto == IPPROTO_ESP_)
		return h->l4_off;
	if (h->proto != IPPROTO_UDP_)
		return 0;
	udp = data + (h->l4_off & 0x1ff);
	if ((void *)(udp + 1) > end || udp->dest != bpf_htons(NATT_PORT))
		return 0;
	/* RFC 3948 s2.2: a zero "non-ESP marker" is IKE, and a single 0xff
	 * byte is a NAT keepalive; both belong to the IKE daemon. */
	marker = (void *)(udp + 1);
	if (bpf_ntohs(udp->len) <= 8 + 1 || (void *)(marker + 1) > end || *marker == 0) {
		*verdict = RX_PASS(ESPX_DROP_BYPASS, 0);
		return 0;
	}
	*encap = 1;
	return h->l4_off + sizeof(*udp);
}

/* Plaintext that an inbound policy says must arrive protected is dropped:
 * nobody gets in by skipping encryption. */
static __always_inline int rx_plain(const struct flow *f, __u32 len)
{
	struct espx_policy *p = policy_lookup(f, ESPX_POL_IN);

	if (p && p->action == ESPX_POL_BLOCK)
		return RX_DROP(ESPX_DROP_POLICY_BLOCK, len);
	if (p && (p->flags & ESPX_POL_F_TMPL) && !p->tmpl.optional)
		return RX_DROP(ESPX_DROP_PLAINTEXT, len);
	return XDP_PASS;
}

/* Tunnel mode: check the inner header against the SA and its selector. */
static __always_inline int rx_inner_ok(struct bpf_dynptr *pkt, const struct espx_sa *sa,
				       struct rx_scratch *rs, __u32 off, __u32 len, __u8 nh,
				       __u16 *eth_proto)
{
	struct flow *fi = &rs->inner;
	__u8 *hdr = rs->hdr;

	__builtin_memset(fi, 0, sizeof(*fi));

	if (nh == IPPROTO_IPIP_) {
		struct iphdr *ip = (void *)hdr;

		if (len < 20 || bpf_dynptr_read(hdr, 20, pkt, off, 0) || ip->version != 4 ||
		    bpf_ntohs(ip->tot_len) != len)
			return ESPX_DROP_MALFORMED;
		fi->family = AF_INET;
		fi->proto = ip->protocol;
		fi->saddr[0] = ip->saddr;
		fi->daddr[0] = ip->daddr;
		*eth_proto = bpf_htons(ETH_P_IP);
	} else if (nh == IPPROTO_IPV6_) {
		struct ipv6hdr *ip6 = (void *)hdr;

		if (len < 40 || bpf_dynptr_read(hdr, 40, pkt, off, 0) || ip6->version != 6 ||
		    bpf_ntohs(ip6->payload_len) + 40 != len)
			return ESPX_DROP_MALFORMED;
		fi->family = AF_INET6;
		fi->proto = ip6->nexthdr;
		__builtin_memcpy(fi->saddr, &ip6->saddr, 16);
		__builtin_memcpy(fi->daddr, &ip6->daddr, 16);
		*eth_proto = bpf_htons(ETH_P_IPV6);
	} else {
		return ESPX_DROP_NEXT_HDR;
	}
	if (sa->sel.proto || sa->sel.sport_mask || sa->sel.dport_mask) {
		__u16 ports[2] = {};
		__u32 l4 = off + (fi->family == AF_INET ? (hdr[0] & 0xf) * 4 : 40);

		if (bpf_dynptr_read(ports, 4, pkt, l4, 0) == 0) {
			fi->sport = ports[0];
			fi->dport = ports[1];
		}
	}
	return sel_match(&sa->sel, fi) ? 0 : ESPX_DROP_SELECTOR;
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
 * returns RX_NEXT to go on, or the verdict. */
#define RX_NEXT	(-1)

/* Parse; find ESP (or ESP in UDP) and the key of its SA. */
static __noinline int rx_classify(struct xdp_md *ctx, struct rx_scratch *rs)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int encap = 0, verdict;
	__u32 hdr[2], esp_off;

	if (!rs)
		return XDP_PASS;
	__builtin_memset(&rs->h, 0, sizeof(rs->h));
	__builtin_memset(&rs->key, 0, sizeof(rs->key));
	rs->frame_len = end - data;
	if (parse_eth(data, end, &rs->h.l3_off, &rs->h.eth_proto))
		return XDP_PASS;
	if (parse_ip(data, end, &rs->h, &rs->f))
		return XDP_PASS;	/* not IP, or not ours to judge */
	if (rs->h.l3_off + rs->h.len > rs->frame_len)
		return RX_DROP(ESPX_DROP_TRUNCATED, rs->frame_len);
	if (rs->h.frag)
		return RX_PASS(ESPX_DROP_FRAGMENT, rs->h.len);
	esp_off = rx_esp_offset(ctx, &rs->h, &encap, &verdict);
	if (verdict >= 0)
		return verdict;
	if (!esp_off) {
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		parse_ports(data, end, &rs->h, &rs->f);
		return rx_plain(&rs->f, rs->h.len);
	}
	if (bpf_xdp_load_bytes(ctx, esp_off, hdr, sizeof(hdr)))
		return RX_DROP(ESPX_DROP_TRUNCATED, rs->h.len);
	/* SA by (outer destination, SPI, family), as xfrm_state_lookup */
	__builtin_memcpy(rs->key.daddr, rs->f.daddr, sizeof(rs->key.daddr));
	rs->key.spi = hdr[0];
	rs->key.family = rs->h.family;
	rs->esp_off = esp_off;
	rs->encap = encap;
	rs->seq = bpf_ntohl(hdr[1]);	/* low half; rx_check infers the rest */
	return RX_NEXT;
}

/* Is the SA usable for this packet, are the lengths sane, is the sequence
 * number inside the window? Nothing has been decrypted yet. */
static __noinline int rx_check(struct rx_scratch *rs, struct espx_sa *sa)
{
	__u32 esp_len;
	int r;

	if (!rs || !sa)
		return XDP_DROP;
	if (!(sa->flags & ESPX_SA_F_READY))
		return RX_DROP(ESPX_DROP_NO_CTX, rs->h.len);
	if (lft_expired(sa))
		return RX_DROP(ESPX_DROP_HARD_LIMIT, rs->h.len);
	if (rs->encap != !!(sa->flags & ESPX_SA_F_ENCAP))
		return RX_DROP(ESPX_DROP_MALFORMED, rs->h.len);
	esp_len = rs->h.l3_off + rs->h.len - rs->esp_off;
	if (esp_len < ESP_HDR_LEN + 2 + sa->icv_len)
		return RX_DROP(ESPX_DROP_TRUNCATED, rs->h.len);
	rs->data_len = esp_len - ESP_HDR_LEN - sa->icv_len;
	if (rs->data_len > ESPX_GCM_MAX_DATA)
		return RX_DROP(ESPX_DROP_TOO_BIG, rs->h.len);
	rs->seq = replay_seq64(sa, (__u32)rs->seq);
	r = replay_check(sa, rs->seq);
	if (r) {
		__sync_fetch_and_add(&sa->replay_drops, 1);
		return RX_DROP(r, rs->h.len);
	}
	return RX_NEXT;
}

/* Verify the ICV and decrypt in place; then, and only then, move the
 * window and read the trailer. */
static __noinline int rx_open(struct xdp_md *ctx, struct rx_scratch *rs, struct espx_sa *sa)
{
	struct bpf_dynptr pkt;
	__u8 *trailer;
	int r;

	if (!rs || !sa)
		return XDP_DROP;
	trailer = rs->tmp;
	if (bpf_dynptr_from_xdp(ctx, 0, &pkt))
		return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	r = esp_gcm_crypt(&pkt, sa, rs->esp_off, rs->data_len, (__u32)(rs->seq >> 32), 1);
	if (r == -ESPX_EBADMSG) {
		__sync_fetch_and_add(&sa->integrity_failed, 1);
		return RX_DROP(ESPX_DROP_ICV, rs->h.len);
	}
	if (r)
		return RX_DROP(ESPX_DROP_CRYPTO, rs->h.len);
	r = replay_advance(sa, rs->seq);
	if (r) {	/* another CPU took this number meanwhile */
		__sync_fetch_and_add(&sa->replay_drops, 1);
		return RX_DROP(r, rs->h.len);
	}
	/* trailer: pad bytes, pad length, next header */
	if (bpf_dynptr_read(trailer, 2, &pkt, rs->esp_off + ESP_HDR_LEN + rs->data_len - 2, 0))
		return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	if (trailer[0] + 2 > rs->data_len)
		return RX_DROP(ESPX_DROP_PAD, rs->h.len);
	rs->pad_len = trailer[0];
	rs->nh = trailer[1];
	rs->inner_off = rs->esp_off + ESP_HDR_LEN;
	rs->inner_len = rs->data_len - 2 - trailer[0];
	if (sa->mode == ESPX_MODE_TUNNEL) {
		__u16 eth_proto;

		r = rx_inner_ok(&pkt, sa, rs, rs->inner_off, rs->inner_len, rs->nh, &eth_proto);
		if (r)
			return RX_DROP(r, rs->h.len);
		rs->h.eth_proto = eth_proto;	/* from now on: the inner type */
	} else if (rs->nh == IPPROTO_ESP_ || rs->nh == 59 /* no next header */) {
		return RX_DROP(ESPX_DROP_NEXT_HDR, rs->h.len);
	}
	return RX_NEXT;
}

/* Tunnel: [eth][inner]. Transport: [eth][IP, protocol nh][payload]. */
static __noinline int rx_decap(struct xdp_md *ctx, struct rx_scratch *rs, const struct espx_sa *sa)
{
	__u32 hdrs, cut, tail;

	if (!rs || !sa)
		return XDP_DROP;
	if (sa->mode == ESPX_MODE_TRANSPORT) {
		hdrs = rs->h.l4_off;			/* keep Ethernet and IP */
		if (rs->h.family == AF_INET) {
			struct iphdr *ip = (void *)rs->hdr;

			if (rs->h.l4_off != rs->h.l3_off + 20 ||
			    bpf_xdp_load_bytes(ctx, rs->h.l3_off, ip, sizeof(*ip)))
				return RX_DROP(ESPX_DROP_MALFORMED, rs->h.len);
			ip->protocol = rs->nh;
			ip->tot_len = bpf_htons(20 + rs->inner_len);
			ip->check = 0;
			ip->check = ipv4_csum(ip);
			if (bpf_xdp_store_bytes(ctx, rs->h.l3_off, ip, sizeof(*ip)))
				return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
		} else {
			struct ipv6hdr *ip6 = (void *)rs->hdr;

			if (bpf_xdp_load_bytes(ctx, rs->h.l3_off, ip6, sizeof(*ip6)))
				return RX_DROP(ESPX_DROP_MALFORMED, rs->h.len);
			ip6->nexthdr = rs->nh;
			ip6->payload_len = bpf_htons(rs->inner_len);
			if (bpf_xdp_store_bytes(ctx, rs->h.l3_off, ip6, sizeof(*ip6)))
				return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
		}
	} else {
		hdrs = rs->h.l3_off;			/* keep Ethernet (+ tag) */
		/* the Ethernet type becomes the inner packet's */
		if (bpf_xdp_store_bytes(ctx, rs->h.l3_off - 2, &rs->h.eth_proto, 2))
			return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	}
	cut = rs->inner_off - hdrs;
	tail = rs->frame_len - (rs->inner_off + rs->inner_len);
	if (rx_shift_front(ctx, rs->tmp, hdrs, cut))
		return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	if (bpf_xdp_adjust_head(ctx, (int)cut))
		return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	if (tail && bpf_xdp_adjust_tail(ctx, -(int)tail))
		return RX_DROP(ESPX_DROP_INTERNAL, rs->h.len);
	return XDP_PASS;
}

static __always_inline int esp_rx(struct xdp_md *ctx)
{
	struct rx_scratch *rs;
	struct espx_sa *sa;
	__u32 zero = 0;
	int r;

	rs = bpf_map_lookup_elem(&espx_rx_scratch, &zero);
	if (!rs)
		return XDP_PASS;
	r = rx_classify(ctx, rs);
	if (r != RX_NEXT)
		return r;
	sa = sa_lookup(&rs->key);
	if (!sa)
		return RX_PASS(ESPX_DROP_NO_SA, rs->h.len);	/* the kernel's, maybe */
	r = rx_check(rs, sa);
	if (r != RX_NEXT)
		return r;
	r = rx_open(ctx, rs, sa);
	if (r != RX_NEXT)
		return r;
	if (lft_account(sa, &rs->key, rs->inner_len, ESPX_DIR_IN))
		return RX_DROP(ESPX_DROP_HARD_LIMIT, rs->h.len);
	return rx_decap(ctx, rs, sa);
}

#endif
