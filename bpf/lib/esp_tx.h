/* SPDX-License-Identifier: GPL-2.0 */
/* Transmit: the inner packet to ESP, at TC egress.
 *
 *   tunnel:    [eth][IP ...]  -> [eth][outer IP][UDP]?[SPI SN IV][IP ... pad padlen nh][ICV]
 *   transport: [eth][IP][L4]  -> [eth][IP, proto ESP][UDP]?[SPI SN IV][L4 ... pad padlen nh][ICV]
 *
 * Outbound policy decides: none -> pass, block -> drop, a template -> the
 * SA user space resolved for it, and without a usable SA the packet is
 * dropped: plaintext that a policy says must be protected never leaves.
 * Fragments (the stack fragments before TC) get their datagram's verdict
 * (frag.h); IPv6 extension headers are walked to the upper layer; UDP
 * 500/4500 bypasses policy only between the IKE peers (espx_ike). */
#ifndef ESPX_BPF_ESP_TX_H
#define ESPX_BPF_ESP_TX_H

#include "counters.h"
#include "esp_gcm.h"
#include "frag.h"
#include "lifetime.h"
#include "parse.h"
#include "policy.h"

#define TX_DROP(r, len)	({ count_reason((r), ESPX_DIR_OUT, (len)); TC_ACT_SHOT; })

/* What must be linear for parsing: Ethernet, IPv4 with options or IPv6,
 * and the ports; with IPv6 extension headers, up to where parse.h stops
 * walking. Pulled only as far as needed: a pull copies. */
#define TX_PULL_LEN	(ETH_HLEN_ + 60 + 8)
#define TX_PULL_EXT	(IPV6_EXT_END + 8)

/* Ones' complement sum of s->buf[off, end), end - off a multiple of 4,
 * in 256-byte bpf_csum_diff() calls (one bpf_loop callback each). */
struct csum_sum {
	struct gcm_scratch *s;
	__u32 off;
	__u32 end;
	__u32 sum;
};

static int csum_range_cb(__u32 i, void *data)
{
	struct csum_sum *c = data;
	__u32 off = c->off + i * 256, len;
	__s64 r;

	if (off >= c->end || off > ESPX_GCM_MAX_DATA - 256)
		return 1;
	len = c->end - off;
	if (len > 256)
		len = 256;
	r = bpf_csum_diff(NULL, 0, (void *)&c->s->buf[off & (ESPX_GCM_MAX_DATA - 1)],
			  len & 0x1fc, c->sum);
	if (r < 0)
		return 1;
	c->sum = (__u32)r;
	return 0;
}

/* Finish the L4 checksum the stack left to the device (CHECKSUM_PARTIAL is
 * what TCP always sends, and TC runs before the device would fill it in):
 * after encryption nobody can. Recomputing a complete checksum gives the
 * same value, so this is done for every TCP and UDP packet. */
static __noinline int tx_l4_csum(struct __sk_buff *skb, const struct l3 *h,
				 const struct flow *f)
{
	struct gcm_scratch *s = gcm_scratch();
	__u32 l4_len = h->len - (h->l4_off - h->l3_off), csum_off, i, last;
	struct csum_sum c = {};
	__u64 sum = 0;
	__u16 zero = 0, res;

	if (h->proto == IPPROTO_TCP_)
		csum_off = 16;
	else if (h->proto == IPPROTO_UDP_)
		csum_off = 6;
	else
		return 0;
	if (h->frag || !s)
		return 0;
	if (l4_len > ESPX_GCM_MAX_DATA - 256 || l4_len < csum_off + 2)
		return -1;
	if (bpf_skb_store_bytes(skb, h->l4_off + csum_off, &zero, 2, 0))
		return -1;
	/* the segment, zero padded to whole 256-byte chunks */
	last = l4_len & (ESPX_GCM_MAX_DATA - 256);
	for (i = 0; i < 32; i++)
		*(__u64 *)&s->buf[last + i * 8] = 0;
	if (bpf_skb_load_bytes(skb, h->l4_off, s->buf, l4_len & (ESPX_GCM_MAX_DATA - 1)))
		return -1;
	c.s = s;
	c.end = (l4_len + 3) & ~3U;	/* the bytes past l4_len are zero */
	bpf_loop((l4_len + 255) / 256, csum_range_cb, &c, 0);
	/* pseudo header: addresses, protocol, length */
	sum = c.sum;
	for (i = 0; i < (f->family == AF_INET ? 1 : 4); i++)
		sum += (__u64)f->saddr[i & 3] + f->daddr[i & 3];
	sum += (__u64)bpf_htonl(h->proto) + bpf_htonl(l4_len);	/* 64-bit: keep the carry */
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	res = csum_fold32((__u32)sum);
	if (h->proto == IPPROTO_UDP_ && res == 0)
		res = 0xffff;
	return bpf_skb_store_bytes(skb, h->l4_off + csum_off, &res, 2, 0) ? -1 : 0;
}

/* The outer TOS / traffic class as the kernel's tunnel encapsulation sets
 * it: the inner DSCP unless the SA says dont-encap-dscp; ECN copied
 * (INET_ECN_encapsulate: CE becomes ECT(0)) unless it says noecn. */
static __always_inline __u8 tx_outer_tos(__u8 tos, __u32 sa_flags)
{
	__u8 ecn = (tos & 3) == 3 ? 2 : tos & 3;

	if (sa_flags & ESPX_SA_F_NOECN)
		ecn = 0;
	return (sa_flags & ESPX_SA_F_DONT_ENCAP_DSCP ? 0 : tos & ~3) | ecn;
}

/* Outer headers: UDP for NAT-T, then the outer IP header (tunnel) or the
 * rewritten IP header (transport). A subprogram of its own, to keep the
 * stack of the main path within BPF's 512 bytes. */
struct tx_layout {
	__u32 esp_off;		/* ESP header */
	__u32 hdrs;		/* bytes before it that are new: outer IP, UDP */
	__u32 insert;		/* hdrs + ESP header */
	__u32 trailer_len;	/* pad, pad length, next header, ICV */
	__u32 data_len;		/* encrypted bytes */
	__u32 payload;		/* inner packet (tunnel) or L4 segment (transport) */
	__u32 spi;
	__u8  pad;
	__u8  nh;
	__u8  unused[2];
	__u64 oseq;
};

static __always_inline int tx_write_headers(struct __sk_buff *skb, const struct espx_sa *sa,
				       const struct l3 *h, const struct tx_layout *lo)
{
	__u32 esp_off = lo->esp_off, hdrs = lo->hdrs, insert = lo->insert;
	__u32 trailer_len = lo->trailer_len, data_len = lo->data_len;
	int tunnel = sa->mode == ESPX_MODE_TUNNEL, encap = !!(sa->flags & ESPX_SA_F_ENCAP);
	__u8 trailer[6];
	__u32 esp[4];
	int i;

	/* trailer: 1, 2, ... lo->pad, then lo->pad length and next header */
	for (i = 0; i < 4; i++)
		trailer[i] = i + 1;
	trailer[lo->pad & 3] = lo->pad;
	trailer[(lo->pad & 3) + 1] = lo->nh;
	{
		__u32 toff = esp_off + ESP_HDR_LEN + lo->payload;

		if ((lo->pad == 0 && bpf_skb_store_bytes(skb, toff, trailer, 2, 0)) ||
		    (lo->pad == 1 && bpf_skb_store_bytes(skb, toff, trailer, 3, 0)) ||
		    (lo->pad == 2 && bpf_skb_store_bytes(skb, toff, trailer, 4, 0)) ||
		    (lo->pad == 3 && bpf_skb_store_bytes(skb, toff, trailer, 5, 0)))
			return -1;
	}
	/* ESP header; the IV is the 64-bit sequence number: unique per key */
	esp[0] = lo->spi;
	esp[1] = bpf_htonl((__u32)lo->oseq);
	*(__u64 *)&esp[2] = bswap64(lo->oseq);
	if (bpf_skb_store_bytes(skb, esp_off, esp, sizeof(esp), 0))
		return -1;

	if (encap) {
		struct udphdr udp = {
			.source = sa->encap_sport,
			.dest = sa->encap_dport,
			.len = bpf_htons(8 + ESP_HDR_LEN + data_len + sa->icv_len),
		};

		if (bpf_skb_store_bytes(skb, esp_off - 8, &udp, sizeof(udp), 0))
			return -1;
	}
	if (tunnel && sa->family == AF_INET) {
		__u16 eth_type = bpf_htons(ETH_P_IP);
		struct iphdr ip;
		__u16 ifrag = 0;

		__builtin_memset(&ip, 0, sizeof(ip));
		*(__u8 *)&ip = 0x45;	/* version 4, 20-byte header */
		ip.tos = tx_outer_tos(h->tos, sa->flags);
		ip.tot_len = bpf_htons(hdrs + ESP_HDR_LEN + data_len + sa->icv_len);
		ip.id = (__u16)bpf_get_prandom_u32();
		ip.ttl = 64;
		ip.protocol = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
		ip.saddr = sa->saddr[0];
		ip.daddr = sa->daddr[0];

		/* DF as the kernel sets it: the inner IPv4 DF, always for IPv6,
		 * never with nopmtudisc */
		if (sa->flags & ESPX_SA_F_NOPMTUDISC)
			ip.frag_off = 0;
		else if (h->family == AF_INET6)
			ip.frag_off = bpf_htons(IP_DF_);
		else if (!bpf_skb_load_bytes(skb, esp_off + ESP_HDR_LEN + 6, &ifrag, 2))
			ip.frag_off = ifrag & bpf_htons(IP_DF_);
		ip.check = ipv4_csum(&ip);
		if (bpf_skb_store_bytes(skb, ETH_HLEN_, &ip, sizeof(ip), 0) ||
		    bpf_skb_store_bytes(skb, 12, &eth_type, 2, 0))
			return -1;
	} else if (tunnel) {
		__u16 eth_type = bpf_htons(ETH_P_IPV6);
		__u8 tos = tx_outer_tos(h->tos, sa->flags);
		struct ipv6hdr ip6;
		__u8 iflow[4] = {};

		__builtin_memset(&ip6, 0, sizeof(ip6));
		*(__u8 *)&ip6 = 0x60 | (tos >> 4);	/* version 6, traffic class high */
		ip6.payload_len = bpf_htons(hdrs - 40 + ESP_HDR_LEN + data_len + sa->icv_len);
		ip6.nexthdr = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
		ip6.hop_limit = 64;
		ip6.flow_lbl[0] = (tos & 0xf) << 4;
		/* the flow label is copied from an IPv6 inner packet */
		if (h->family == AF_INET6 &&
		    !bpf_skb_load_bytes(skb, esp_off + ESP_HDR_LEN, iflow, 4)) {
			ip6.flow_lbl[0] |= iflow[1] & 0xf;
			ip6.flow_lbl[1] = iflow[2];
			ip6.flow_lbl[2] = iflow[3];
		}
		__builtin_memcpy(&ip6.saddr, sa->saddr, 16);
		__builtin_memcpy(&ip6.daddr, sa->daddr, 16);
		if (bpf_skb_store_bytes(skb, ETH_HLEN_, &ip6, sizeof(ip6), 0) ||
		    bpf_skb_store_bytes(skb, 12, &eth_type, 2, 0))
			return -1;
	} else if (h->family == AF_INET) {
		struct iphdr ip;

		if (h->l4_off != h->l3_off + 20 ||
		    bpf_skb_load_bytes(skb, h->l3_off, &ip, sizeof(ip)))
			return -1;
		ip.protocol = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
		ip.tot_len = bpf_htons(h->len + insert + trailer_len);
		ip.check = 0;
		ip.check = ipv4_csum(&ip);
		if (bpf_skb_store_bytes(skb, h->l3_off, &ip, sizeof(ip), 0))
			return -1;
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, h->l3_off, &ip6, sizeof(ip6)))
			return -1;
		ip6.nexthdr = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
		ip6.payload_len = bpf_htons(h->len - 40 + insert + trailer_len);
		if (bpf_skb_store_bytes(skb, h->l3_off, &ip6, sizeof(ip6), 0))
			return -1;
	}

	return 0;
}

/* Per-packet working state kept off the 512-byte stack (per CPU; a TC
 * program runs to completion on its CPU). */
struct tx_scratch {
	struct flow f;
	struct pol_verdict v;
	struct tx_layout lo;
	struct l3 h;
	__u8 icmp[8 + 80];	/* ICMP header + quoted start of the packet */
	__u8 hdr[40];		/* new IP header */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tx_scratch);
} espx_tx_scratch SEC(".maps");

/* The packet will not fit the device once encapsulated. Tell the sender,
 * as a router on the path would: the packet becomes an ICMP "fragmentation
 * needed" (IPv4 with DF) or ICMPv6 "packet too big" quoting its start, from
 * the inner destination to the inner source, and is turned around into
 * this device's receive path. The sender's stack lowers its path MTU (TCP
 * its segment size) and tries again. */
static __noinline int tx_too_big(struct __sk_buff *skb, struct tx_scratch *ts, __u32 mtu)
{
	__u32 quote, msg_len, sum = 0, i;
	__u8 mac[12], *b;
	__s64 r;

	if (!ts)
		return TX_DROP(ESPX_DROP_INTERNAL, 0);
	b = ts->icmp;
	__builtin_memset(b, 0, sizeof(ts->icmp));
	if (ts->h.family == AF_INET) {
		struct iphdr *ip = (void *)ts->hdr;

		/* IP header and 40 bytes: the 8 RFC 792 asks for, and as many
		 * as the kernel needs to keep the checksum fields in the skb */
		quote = 60;
		if (bpf_skb_load_bytes(skb, ETH_HLEN_, b + 8, quote))
			return TX_DROP(ESPX_DROP_INTERNAL, 0);
		b[0] = 3;			/* destination unreachable */
		b[1] = 4;			/* fragmentation needed */
		*(__u16 *)(b + 6) = bpf_htons(mtu);
		msg_len = 8 + quote;
		r = bpf_csum_diff(NULL, 0, (void *)b, 68, 0);
		*(__u16 *)(b + 2) = csum_fold32((__u32)r);
		__builtin_memset(ip, 0, 20);
		*(__u8 *)ip = 0x45;
		ip->tot_len = bpf_htons(20 + msg_len);
		ip->ttl = 64;
		ip->protocol = IPPROTO_ICMP_;
		ip->saddr = ts->f.daddr[0];
		ip->daddr = ts->f.saddr[0];
		ip->check = ipv4_csum(ip);
		if (bpf_skb_adjust_room(skb, 20 + 8, BPF_ADJ_ROOM_MAC, 0) ||
		    bpf_skb_change_tail(skb, ETH_HLEN_ + 20 + msg_len, 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN_, ip, 20, 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN_ + 20, b, 68, 0))
			return TX_DROP(ESPX_DROP_INTERNAL, 0);
	} else {
		struct ipv6hdr *ip6 = (void *)ts->hdr;
		__u64 acc;

		quote = 80;
		if (bpf_skb_load_bytes(skb, ETH_HLEN_, b + 8, quote))
			return TX_DROP(ESPX_DROP_INTERNAL, 0);
		b[0] = 2;			/* packet too big */
		*(__u32 *)(b + 4) = bpf_htonl(mtu);
		msg_len = 8 + quote;
		/* pseudo header: addresses, length, next header 58 */
		acc = 0;
		for (i = 0; i < 4; i++)
			acc += (__u64)ts->f.saddr[i] + ts->f.daddr[i];
		acc += (__u64)bpf_htonl(msg_len) + bpf_htonl(IPPROTO_ICMPV6_);
		acc = (acc & 0xffffffff) + (acc >> 32);
		acc = (acc & 0xffffffff) + (acc >> 32);
		sum = (__u32)acc;
		r = bpf_csum_diff(NULL, 0, (void *)b, 88, sum);
		*(__u16 *)(b + 2) = csum_fold32((__u32)r);
		__builtin_memset(ip6, 0, 40);
		*(__u8 *)ip6 = 0x60;
		ip6->payload_len = bpf_htons(msg_len);
		ip6->nexthdr = IPPROTO_ICMPV6_;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, ts->f.daddr, 16);
		__builtin_memcpy(&ip6->daddr, ts->f.saddr, 16);
		if (bpf_skb_adjust_room(skb, 40 + 8, BPF_ADJ_ROOM_MAC, 0) ||
		    bpf_skb_change_tail(skb, ETH_HLEN_ + 40 + msg_len, 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN_, ip6, 40, 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN_ + 40, b, 88, 0))
			return TX_DROP(ESPX_DROP_INTERNAL, 0);
	}
	/* back in: addressed to our own MAC */
	if (bpf_skb_load_bytes(skb, 0, mac, 12))
		return TX_DROP(ESPX_DROP_INTERNAL, 0);
	if (bpf_skb_store_bytes(skb, 0, mac + 6, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, mac, 6, 0))
		return TX_DROP(ESPX_DROP_INTERNAL, 0);
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* Encrypt in place; its own frame for the GCM state (stack budget). */
static __always_inline int tx_seal(struct __sk_buff *skb, struct espx_sa *sa, __u32 esp_off,
			      __u32 data_len, __u32 seq_hi)
{
	struct bpf_dynptr pkt;

	if (!sa || bpf_dynptr_from_skb(skb, 0, &pkt))
		return -1;
	return esp_gcm_crypt(&pkt, sa, esp_off, data_len, seq_hi, 0) ? -1 : 0;
}

/* The stack hands TCP (and often UDP) over with CHECKSUM_PARTIAL: the
 * device, or the kernel just before it, is to write the L4 checksum at
 * csum_start + csum_offset, summing from csum_start to the end of the frame.
 * tx_l4_csum already completed that checksum inside the plaintext, but a TC
 * program cannot clear the flag, and after encryption those two bytes are
 * ciphertext: the late write would corrupt the packet. So two bytes are
 * appended after the IP packet (receivers trim to the IP length) whose
 * value makes that late checksum equal to the bytes already there: the
 * write changes nothing. Without CHECKSUM_PARTIAL nothing writes, and the
 * two bytes are plain Ethernet padding. */
static __always_inline __u16 csum16_add(__u16 a, __u16 b)
{
	__u32 s = (__u32)a + b;

	return (__u16)((s & 0xffff) + (s >> 16));
}

static __noinline int tx_csum_neutralize(struct __sk_buff *skb, struct tx_scratch *ts,
					 __u32 l4_in_payload)
{
	struct gcm_scratch *s = gcm_scratch();
	struct csum_sum c = {};
	__u32 field, end, icv_off, icv_len;
	__u16 cp, t, n;
	__s64 r;

	if (!ts || !s)
		return -1;
	if (ts->h.proto == IPPROTO_TCP_)
		field = l4_in_payload + 16;
	else if (ts->h.proto == IPPROTO_UDP_)
		field = l4_in_payload + 6;
	else
		return 0;	/* nothing checksummed late */
	end = ts->lo.data_len;
	icv_len = ts->lo.trailer_len - ts->lo.pad - 2;
	if (field + 2 > end || end > ESPX_GCM_MAX_DATA || (l4_in_payload & 3) || icv_len > 16)
		return -1;
	/* sum of ciphertext from the L4 header on, then the ICV */
	c.s = s;
	c.off = l4_in_payload;
	c.end = end;
	bpf_loop((end - l4_in_payload + 255) / 256, csum_range_cb, &c, 0);
	icv_off = ts->lo.esp_off + ESP_HDR_LEN + end;
	__builtin_memset(ts->icmp, 0, 16);
	if ((icv_len == 16 && bpf_skb_load_bytes(skb, icv_off, ts->icmp, 16)) ||
	    (icv_len == 12 && bpf_skb_load_bytes(skb, icv_off, ts->icmp, 12)) ||
	    (icv_len == 8 && bpf_skb_load_bytes(skb, icv_off, ts->icmp, 8)))
		return -1;
	r = bpf_csum_diff(NULL, 0, (void *)ts->icmp, 16, c.sum);
	if (r < 0)
		return -1;
	t = (__u16)~csum_fold32((__u32)r);	/* folded sum, field included */
	cp = *(__u16 *)&s->buf[field & (ESPX_GCM_MAX_DATA - 2)];
	if (cp == 0)
		return -2;	/* would be written as 0xffff: cannot be kept */
	/* want fold(t + n) == ~cp */
	n = csum16_add((__u16)~cp, (__u16)~t);
	/* esp_tx made room for these two bytes with the trailer */
	if (bpf_skb_store_bytes(skb, skb->len - 2, &n, 2, 0))
		return -1;
	return 0;
}

#define TX_NEXT	(-1)

/* Parse, then the verdict: pass, drop, or TX_NEXT with the SA to protect
 * with in ts->v. A subprogram of its own: the policy lookup's stack and
 * the encryption's are never needed at once. */
static __noinline int tx_classify(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct l3 *h;
	struct flow *fp;
	void *data, *end;

	if (!ts)
		return TC_ACT_OK;
	h = &ts->h;
	fp = &ts->f;
	__builtin_memset(h, 0, sizeof(*h));
	h->l3_off = ETH_HLEN_;
	h->eth_proto = skb->protocol;
	{
		__u32 want = TX_PULL_LEN;
		__u8 nh = 0;

		if (skb->protocol == bpf_htons(ETH_P_IPV6) &&
		    !bpf_skb_load_bytes(skb, ETH_HLEN_ + 6, &nh, 1) &&
		    (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
		     nh == IPPROTO_DSTOPTS_ || nh == IPPROTO_FRAG_))
			want = TX_PULL_EXT;
		bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	}
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	/* an IP packet espx cannot parse is not let past policies unseen */
	if (parse_ip(data, end, h, fp))
		return policy_table_used(ESPX_POL_OUT) ? TX_DROP(ESPX_DROP_MALFORMED, skb->len) :
		       TC_ACT_OK;
	parse_ports(data, end, h, fp);
	if (h->ext_bad)		/* the upper layer is not known: fail closed */
		return policy_any(fp, ESPX_POL_OUT, PK_ADDRS) ? TX_DROP(ESPX_DROP_EXTHDR, h->len) : TC_ACT_OK;
	/* IKE and NAT-T keepalives between the IKE peers are the IKE
	 * daemon's own (socket bypass policies in the kernel); UDP 500 and
	 * 4500 to anyone else is decided by policy like any packet */
	if (h->proto == IPPROTO_UDP_ && !h->later && (ike_port(fp->sport) || ike_port(fp->dport)) &&
	    ike_pair(fp->saddr, fp->daddr, fp->family)) {
		pv_set(&ts->v, PV_PASS, 0);
		frag_remember(h, fp, (__u64)PM_OUT << 32, &ts->v);
		count_reason(ESPX_DROP_BYPASS, ESPX_DIR_OUT, h->len);
		return TC_ACT_OK;
	}
	decide(h, fp, ESPX_POL_OUT, PM_OUT, NULL, &ts->v);
	if (ts->v.action == PV_PASS)
		return TC_ACT_OK;
	if (ts->v.action != PV_PROTECT)
		return TX_DROP(ts->v.reason, h->len);
	/* espx and the kernel are handing over: neither may send it now */
	if (transition_guard())
		return TX_DROP(ESPX_DROP_GUARD, h->len);
	return TX_NEXT;
}

/* Protect the packet with the SA in ts->v. */
static __noinline int tx_protect(struct __sk_buff *skb, struct tx_scratch *ts)
{
	__u32 pad, data_len, payload, esp_off, hdrs, insert, trailer_len, seq_hi, late;
	const struct espx_sa_key *key;
	struct espx_sa *sa;
	struct flow *fp;
	struct l3 *h;
	__u64 oseq;
	__u8 nh;
	int tunnel, encap;

	if (!ts)
		return TC_ACT_SHOT;
	h = &ts->h;
	fp = &ts->f;
	key = &ts->v.sa;
	sa = sa_lookup(key);
	if (!sa || !(sa->flags & ESPX_SA_F_READY))
		return TX_DROP(ESPX_DROP_NO_SA_OUT, h->len);
	if (lft_expired(sa))
		return TX_DROP(ESPX_DROP_HARD_LIMIT, h->len);
	if (skb->gso_segs > 1) {
		/* a super-packet (forwarded, aggregated): around through the
		 * segmenter, back here one segment at a time */
		__u32 k = skb->ifindex, *seg = bpf_map_lookup_elem(&espx_seg, &k);

		if (seg)
			return bpf_redirect(*seg, 0);
		return TX_DROP(ESPX_DROP_GSO, h->len);
	}
	/* transport mode protects whole datagrams (RFC 4303 s3.3.4), which
	 * the stack has already cut: too big once encapsulated. With IPv6
	 * extension headers ESP would go after them (not done). */
	if (h->frag && sa->mode == ESPX_MODE_TRANSPORT)
		return TX_DROP(ESPX_DROP_MTU, h->len);
	if (h->ext && sa->mode == ESPX_MODE_TRANSPORT)
		return TX_DROP(ESPX_DROP_EXTHDR, h->len);
	if (ETH_HLEN_ + h->len > skb->len)
		return TX_DROP(ESPX_DROP_TRUNCATED, skb->len);

	tunnel = sa->mode == ESPX_MODE_TUNNEL;
	encap = !!(sa->flags & ESPX_SA_F_ENCAP);
	if (!tunnel && h->family != sa->family)
		return TX_DROP(ESPX_DROP_SELECTOR, h->len);
	if (tx_l4_csum(skb, h, fp))
		return TX_DROP(ESPX_DROP_INTERNAL, h->len);
	if (tunnel) {
		payload = h->len;
		nh = h->family == AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_;
		hdrs = (sa->family == AF_INET ? 20 : 40) + (encap ? 8 : 0);
		esp_off = ETH_HLEN_ + hdrs;
	} else {
		payload = h->len - (h->l4_off - h->l3_off);
		nh = h->proto;
		hdrs = encap ? 8 : 0;
		esp_off = h->l4_off + hdrs;
	}
	pad = (4 - ((payload + 2) & 3)) & 3;	/* RFC 4303 s2.4: 4-byte alignment */
	data_len = payload + pad + 2;
	if (data_len > ESPX_GCM_MAX_DATA)
		return TX_DROP(ESPX_DROP_TOO_BIG, h->len);
	insert = hdrs + ESP_HDR_LEN;
	trailer_len = pad + 2 + sa->icv_len;

	/* path MTU: too big once encapsulated -> tell the sender */
	{
		__u32 mtu = 0;

		/* + 2: the checksum-neutralizing bytes after the IP packet */
		if (bpf_check_mtu(skb, 0, &mtu, (__s32)(insert + trailer_len + 2), 0) ==
		    BPF_MTU_CHK_RET_FRAG_NEEDED) {
			/* the largest inner packet that fits, whatever its padding */
			__u32 over = insert + sa->icv_len + 2 + 3 + 2;
			__u32 room = mtu > over ? mtu - over : 0;

			count_reason(ESPX_DROP_MTU, ESPX_DIR_OUT, h->len);
			if (h->family == AF_INET6 && room < 1280)
				room = 1280;
			if (h->family == AF_INET6 || (h->df && room >= 68)) {
				return tx_too_big(skb, ts, room);
			}
			return TC_ACT_SHOT;
		}
	}

	/* a sequence number is never used twice, whatever happens next */
	oseq = __sync_fetch_and_add(&sa->oseq, 1) + 1;
	if (!(sa->flags & ESPX_SA_F_ESN) && oseq > 0xffffffffULL)
		return TX_DROP(ESPX_DROP_SEQ_OVERFLOW, h->len);
	if (lft_account(sa, key, h->len, ESPX_DIR_OUT))
		return TX_DROP(ESPX_DROP_HARD_LIMIT, h->len);

	/* trailer and ICV, and for TCP and UDP the two bytes that keep a late
	 * checksum write off the ciphertext (tx_csum_neutralize), in one go */
	late = !h->frag && (h->proto == IPPROTO_TCP_ || h->proto == IPPROTO_UDP_) ? 2 : 0;
	if (bpf_skb_change_tail(skb, skb->len + trailer_len + late, 0))
		return TX_DROP(ESPX_DROP_INTERNAL, h->len);
	if (bpf_skb_adjust_room(skb, insert, tunnel ? BPF_ADJ_ROOM_MAC : BPF_ADJ_ROOM_NET, 0))
		return TX_DROP(ESPX_DROP_INTERNAL, h->len);

	ts->lo.esp_off = esp_off;
	ts->lo.hdrs = hdrs;
	ts->lo.insert = insert;
	ts->lo.trailer_len = trailer_len;
	ts->lo.data_len = data_len;
	ts->lo.payload = payload;
	ts->lo.pad = pad;
	ts->lo.nh = nh;
	ts->lo.spi = key->spi;
	ts->lo.oseq = oseq;
	if (tx_write_headers(skb, sa, h, &ts->lo))
		return TX_DROP(ESPX_DROP_INTERNAL, h->len);

	seq_hi = (__u32)(oseq >> 32);
	if (tx_seal(skb, sa, esp_off, data_len, seq_hi))
		return TX_DROP(ESPX_DROP_CRYPTO, h->len);
	if (late) {
		int r = tx_csum_neutralize(skb, ts, tunnel ? h->l4_off - h->l3_off : 0);

		/* 1 packet in 65536 has ciphertext 0000 where the late checksum
		 * goes, which that write would turn into ffff: dropped, and the
		 * sender's retransmission gets a new sequence number and IV */
		if (r == -2)
			return TX_DROP(ESPX_DROP_CSUM_COLLISION, h->len);
		if (r)
			return TX_DROP(ESPX_DROP_INTERNAL, h->len);
	}
	return TC_ACT_OK;
}

static __always_inline int esp_tx(struct __sk_buff *skb)
{
	struct tx_scratch *ts;
	__u32 zero = 0;
	int r;

	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	ts = bpf_map_lookup_elem(&espx_tx_scratch, &zero);
	if (!ts)
		return TC_ACT_OK;
	r = tx_classify(skb, ts);
	if (r != TX_NEXT)
		return r;
	return tx_protect(skb, ts);
}

#endif
