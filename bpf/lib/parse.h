/* SPDX-License-Identifier: GPL-2.0 */
/* Header parsing over direct packet access (XDP data, or TC data after
 * bpf_skb_pull_data): Ethernet with at most one 802.1Q tag, IPv4 or IPv6,
 * and the flow fields selectors need. Every access is bounds-checked here. */
#ifndef ESPX_BPF_PARSE_H
#define ESPX_BPF_PARSE_H

#include "compat.h"
#include "selector.h"

#define ETH_HLEN_	14
#define VLAN_HLEN_	4
#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8
#define IPPROTO_ESP_	50
#define IPPROTO_UDP_	17
#define IPPROTO_TCP_	6
#define IPPROTO_ICMP_	1
#define IPPROTO_ICMPV6_	58
#define IPPROTO_IPIP_	4
#define IPPROTO_IPV6_	41
#define IPPROTO_FRAG_	44
#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ROUTING_ 43
#define IPPROTO_DSTOPTS_ 60
#define IPV6_EXT_MAX	6	/* extension headers walked; more: ext_bad */
#define IPV6_EXT_END	512	/* nor beyond this offset */
#define IP_MF_		0x2000
#define IP_DF_		0x4000
#define IP_OFFMASK_	0x1fff
#define NATT_PORT	4500
#define IKE_PORT	500

struct l3 {
	__u32 l3_off;		/* from the start of the frame */
	__u32 l4_off;		/* upper-layer header, after IPv6 extension headers */
	__u32 len;		/* IP packet length from its header */
	__u32 frag_id;		/* fragments: IPv4 ID or IPv6 fragment ID */
	__u16 eth_proto;	/* network order */
	__u16 nh_off;		/* the byte naming proto (IPv4 protocol, last next header) */
	__u8  family;
	__u8  proto;		/* upper-layer protocol */
	__u8  frag;		/* a fragment of a datagram */
	__u8  later;		/* a fragment after the first: no upper-layer header */
	__u8  tos;		/* IPv4 TOS / IPv6 traffic class */
	__u8  df;		/* IPv4 "don't fragment" */
	__u8  ext;		/* IPv6 extension headers before the upper layer */
	__u8  ext_bad;		/* ... more of them than espx walks */
	__u8  noports;		/* ports unknown: a later fragment, or beyond the data */
	__u8  flow[3];		/* IPv6 flow label, as on the wire (first nibble 0) */
};

/* Ethernet (+ one VLAN tag): offset of the network header and its type. */
static __always_inline int parse_eth(void *data, void *end, __u32 *l3_off, __u16 *proto)
{
	struct ethhdr *eth = data;
	struct vlan_hdr { __be16 tci; __be16 proto; } *vh;

	if ((void *)(eth + 1) > end)
		return -1;
	*proto = eth->h_proto;
	*l3_off = ETH_HLEN_;
	if (*proto == bpf_htons(ETH_P_8021Q_) || *proto == bpf_htons(ETH_P_8021AD_)) {
		vh = data + ETH_HLEN_;
		if ((void *)(vh + 1) > end)
			return -1;
		*proto = vh->proto;
		*l3_off += VLAN_HLEN_;
	}
	return 0;
}

/* IPv6: walk hop-by-hop, routing, destination options and fragment
 * headers to the upper-layer protocol, as the kernel's session decoding
 * does, so that no extension header changes what policy a packet gets.
 * A fragment after the first stops the walk: what follows is data. */
static __always_inline void parse_ip6_ext(void *data, void *end, struct l3 *h, __u8 nh)
{
	__u32 off = h->l4_off;
	__u8 *x;
	int i;

#pragma unroll
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		if (nh != IPPROTO_HOPOPTS_ && nh != IPPROTO_ROUTING_ &&
		    nh != IPPROTO_DSTOPTS_ && nh != IPPROTO_FRAG_)
			break;
		if (off > IPV6_EXT_END) {
			h->ext_bad = 1;
			break;
		}
		x = data + (off & 0x3ff);
		if ((void *)(x + 8) > end) {	/* every one is 8 bytes or more */
			h->ext_bad = 1;
			break;
		}
		h->ext = 1;
		h->nh_off = off;
		if (nh == IPPROTO_FRAG_) {
			h->frag = 1;
			h->later = !!(*(__u16 *)(x + 2) & bpf_htons(0xfff8));
			h->frag_id = *(__u32 *)(x + 4);
			nh = x[0];
			off += 8;
			if (h->later)
				break;
		} else {
			nh = x[0];
			off += ((__u32)x[1] + 1) * 8;
		}
	}
	if (!h->later && (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
			  nh == IPPROTO_DSTOPTS_ || nh == IPPROTO_FRAG_))
		h->ext_bad = 1;
	h->proto = nh;
	h->l4_off = off;
}

/* The IP header at l3_off; fills the flow's addresses and protocol. */
static __always_inline int parse_ip(void *data, void *end, struct l3 *h, struct flow *f)
{
	__u32 off = h->l3_off & 0xff;

	__builtin_memset(f, 0, sizeof(*f));
	h->frag = h->later = h->ext = h->ext_bad = h->noports = 0;
	h->frag_id = 0;
	if (h->eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return -1;
		h->family = AF_INET;
		h->proto = ip->protocol;
		h->l4_off = off + ip->ihl * 4;
		h->len = bpf_ntohs(ip->tot_len);
		h->frag = !!(ip->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_));
		h->later = !!(ip->frag_off & bpf_htons(IP_OFFMASK_));
		h->frag_id = ip->id;
		h->nh_off = off + 9;
		h->tos = ip->tos;
		h->df = !!(ip->frag_off & bpf_htons(IP_DF_));
		f->saddr[0] = ip->saddr;
		f->daddr[0] = ip->daddr;
		if (h->len < ip->ihl * 4)
			return -1;
	} else if (h->eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return -1;
		h->family = AF_INET6;
		h->l4_off = off + sizeof(*ip6);
		h->nh_off = off + 6;
		h->len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		h->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
		h->flow[0] = ip6->flow_lbl[0] & 0xf;
		h->flow[1] = ip6->flow_lbl[1];
		h->flow[2] = ip6->flow_lbl[2];
		parse_ip6_ext(data, end, h, ip6->nexthdr);
		__builtin_memcpy(f->saddr, &ip6->saddr, 16);
		__builtin_memcpy(f->daddr, &ip6->daddr, 16);
	} else {
		return -1;
	}
	f->family = h->family;
	f->proto = h->proto;
	return 0;
}

/* Ports (or ICMP type/code) for the flow, when the packet has them; when
 * it should and they cannot be read, h->noports (decided without them). */
static __always_inline void parse_ports(void *data, void *end, struct l3 *h, struct flow *f)
{
	__u8 *l4 = data + (h->l4_off & 0x3ff);

	if (h->later || h->ext_bad) {
		h->noports = 1;
		return;
	}
	switch (h->proto) {
	case IPPROTO_TCP_:
	case IPPROTO_UDP_:
	case 132:	/* SCTP */
		if ((void *)(l4 + 4) > end) {
			h->noports = 1;
			return;
		}
		f->sport = *(__u16 *)l4;
		f->dport = *(__u16 *)(l4 + 2);
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		/* XFRM matches ICMP type in sport and code in dport */
		if ((void *)(l4 + 2) > end) {
			h->noports = 1;
			return;
		}
		f->sport = bpf_htons(l4[0]);
		f->dport = bpf_htons(l4[1]);
		break;
	}
}

#endif
