/* SPDX-License-Identifier: GPL-2.0 */
/* Transmit: the inner packet to ESP, at TC egress.
 *
 *   tunnel:    [eth][IP ...]  -> [eth][outer IP][UDP]?[SPI SN IV][IP ... pad padlen nh][ICV]
 *   transport: [eth][IP][L4]  -> [eth][IP, proto ESP][UDP]?[SPI SN IV][L4 ... pad padlen nh][ICV]
 *
 * In steps, each a function returning 0 to go on, STEP_PASS or
 * STEP_REDIRECT, or -ESPX_DROP_x (counters.h); esp_tx() alone counts and
 * picks the TC verdict:
 *   tx_classify  parse; what espx cannot parse passes, unless policies exist
 *   tx_policy    outbound policy: none -> pass, block -> drop, a template ->
 *                the SA user space resolved for it (ts->v.sa)
 *   tx_layout    is the SA usable for this packet, where do the new headers
 *                go (struct tx_layout), does the result fit the path MTU
 *   tx_encap     take a sequence number, make room, write the headers
 *   tx_seal      encrypt, and keep a late checksum write off the ciphertext
 * Without a usable SA a protected packet is dropped: plaintext that a
 * policy says must be protected never leaves. Fragments (the stack
 * fragments before TC) get their datagram's verdict (frag.h); IPv6
 * extension headers are walked to the upper layer; UDP 500/4500 bypasses
 * policy only between the IKE peers (espx_ike). */
#ifndef ESPX_BPF_ESP_TX_H
#define ESPX_BPF_ESP_TX_H

#include "counters.h"
#include "csum.h"
#include "esp_gcm.h"
#include "fib.h"
#include "frag.h"
#include "icmp.h"
#include "lifetime.h"
#include "parse.h"
#include "policy.h"

/* What must be linear for parsing: Ethernet, IPv4 with options or IPv6,
 * and the ports; with IPv6 extension headers, up to where parse.h stops
 * walking. Pulled only as far as needed: a pull copies. */
#define TX_PULL_LEN	(ETH_HLEN_ + 60 + 8)
#define TX_PULL_EXT	(IPV6_EXT_END + 8)

/* Where the new headers go (tx_layout), read by tx_encap and tx_seal. */
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
	__u8  proto;		/* what the IP header before ESP names: ESP, or UDP */
	__u8  late;		/* bytes after the trailer for tx_csum_neutralize */
	__u64 oseq;
};

/* Per-packet working state kept off the 512-byte stack (per CPU; a TC
 * program runs to completion on its CPU). */
struct tx_scratch {
	struct flow f;
	struct pol_verdict v;
	struct tx_layout lo;
	struct l3 h;
	struct icmp_buf icmp;
	struct bpf_fib_lookup fib;	/* the pod fast path's uplink (redirect.h) */
	struct pol_verdict fv;		/* ... and its fwd check */
	__u32 mtu;			/* ... bpf_check_mtu's length in/MTU out */
	__u32 count_len;	/* the bytes a result is counted over */
	__u32 redirect;		/* STEP_REDIRECT: the device to send it to */
	__u8  neigh;		/* ... through bpf_redirect_neigh (redirect.h) */
	__u32 too_big;		/* -ESPX_DROP_MTU: the MTU to tell the sender; 0: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tx_scratch);
} espx_tx_scratch SEC(".maps");

/* 1. Parse: the IP header, IPv6 extension headers, the ports. */
static __noinline int tx_classify(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct l3 *h;
	struct flow *fp;
	void *data, *end;
	__u32 want = TX_PULL_LEN;
	__u8 nh = 0;

	if (!ts)
		return -ESPX_DROP_INTERNAL;
	h = &ts->h;
	fp = &ts->f;
	__builtin_memset(h, 0, sizeof(*h));
	ts->count_len = skb->len;
	ts->too_big = 0;
	h->l3_off = ETH_HLEN_;
	h->eth_proto = skb->protocol;
	if (skb->protocol == bpf_htons(ETH_P_8021Q_) || skb->protocol == bpf_htons(ETH_P_8021AD_)) {
		/* a VLAN tag in the frame itself (a VLAN device with
		 * reorder_hdr off, stacked tags, a packet socket): the packet
		 * inside is judged like any other, so that policy sees it */
		if (bpf_skb_load_bytes(skb, ETH_HLEN_ + 2, &h->eth_proto, 2) ||
		    (h->eth_proto != bpf_htons(ETH_P_IP) && h->eth_proto != bpf_htons(ETH_P_IPV6)))
			return STEP_PASS(ESPX_DROP_NONE);
		h->l3_off += VLAN_HLEN_;
		want += VLAN_HLEN_;
	}
	if (h->eth_proto == bpf_htons(ETH_P_IPV6) &&
	    !bpf_skb_load_bytes(skb, h->l3_off + 6, &nh, 1) &&
	    (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ ||
	     nh == IPPROTO_DSTOPTS_ || nh == IPPROTO_FRAG_))
		want = TX_PULL_EXT + VLAN_HLEN_;
	bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	/* an IP packet espx cannot parse is not let past policies unseen */
	if (parse_ip(data, end, h, fp))
		return policy_table_used(ESPX_POL_OUT) ? -ESPX_DROP_MALFORMED :
		       STEP_PASS(ESPX_DROP_NONE);
	ts->count_len = h->len;
	parse_ports(data, end, h, fp);
	if (h->ext_bad)		/* the upper layer is not known: fail closed */
		return policy_any(fp, ESPX_POL_OUT, PK_ADDRS) ? -ESPX_DROP_EXTHDR :
		       STEP_PASS(ESPX_DROP_NONE);
	return 0;
}

/* 2. The verdict: pass, drop, or protect with the SA in ts->v.sa. A
 * subprogram of its own: the policy lookup's stack and the encryption's
 * are never needed at once. */
static __noinline int tx_policy(struct tx_scratch *ts)
{
	struct l3 *h;
	struct flow *fp;

	if (!ts)
		return -ESPX_DROP_INTERNAL;
	h = &ts->h;
	fp = &ts->f;
	/* IKE and NAT-T keepalives between the IKE peers are the IKE
	 * daemon's own (socket bypass policies in the kernel); UDP 500 and
	 * 4500 to anyone else is decided by policy like any packet */
	if (h->proto == IPPROTO_UDP_ && !h->later && (ike_port(fp->sport) || ike_port(fp->dport)) &&
	    ike_pair(fp->saddr, fp->daddr, fp->family)) {
		pv_set(&ts->v, PV_PASS, 0);
		frag_remember(h, fp, (__u64)PM_OUT << 32, &ts->v);
		return STEP_PASS(ESPX_DROP_BYPASS);
	}
	decide(h, fp, ESPX_POL_OUT, PM_OUT, NULL, &ts->v);
	if (ts->v.action == PV_PASS)
		return STEP_PASS(ESPX_DROP_NONE);
	if (ts->v.action != PV_PROTECT)
		return step_drop(ts->v.reason);
	/* espx and the kernel are handing over: neither may send it now */
	if (transition_guard())
		return -ESPX_DROP_GUARD;
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
	__u16 zero = 0, res;

	if (h->proto == IPPROTO_TCP_)
		csum_off = 16;
	else if (h->proto == IPPROTO_UDP_)
		csum_off = 6;
	else
		return 0;
	if (h->frag || !s)
		return 0;
	/* no whole TCP/UDP header inside the IP packet (an IPv6 header
	 * chain ending past it, a cut header): a malformed packet, not an
	 * internal failure */
	if (h->l4_off - h->l3_off > h->len || l4_len < csum_off + 2)
		return -ESPX_DROP_MALFORMED;
	if (l4_len > ESPX_GCM_MAX_DATA - 256)
		return -ESPX_DROP_INTERNAL;
	if (bpf_skb_store_bytes(skb, h->l4_off + csum_off, &zero, 2, 0))
		return -ESPX_DROP_INTERNAL;
	/* the segment, zero padded to whole 256-byte chunks */
	last = l4_len & (ESPX_GCM_MAX_DATA - 256);
	for (i = 0; i < 32; i++)
		*(__u64 *)&s->buf[last + i * 8] = 0;
	if (bpf_skb_load_bytes(skb, h->l4_off, s->buf, l4_len & (ESPX_GCM_MAX_DATA - 1)))
		return -ESPX_DROP_INTERNAL;
	csum_buf(&c, s, 0, (l4_len + 3) & ~3U);	/* the bytes past l4_len are zero */
	res = csum_fold32(csum_pseudo(c.sum, f->saddr, f->daddr, f->family, h->proto, l4_len));
	if (h->proto == IPPROTO_UDP_ && res == 0)
		res = 0xffff;
	return bpf_skb_store_bytes(skb, h->l4_off + csum_off, &res, 2, 0) ? -ESPX_DROP_INTERNAL : 0;
}

/* Would the packet, encapsulated, still fit the device (ifindex; 0: the
 * skb's own)? If not: -MTU, and
 * in ts->too_big the largest inner packet that fits, whatever its padding,
 * when the sender is to hear it (IPv6, or IPv4 with DF). */
static __always_inline int tx_path_mtu(struct __sk_buff *skb, struct tx_scratch *ts,
				       const struct espx_sa *sa, __u32 ifindex)
{
	const struct tx_layout *lo = &ts->lo;
	__u32 mtu = 0, over, room;

	/* + 2: the checksum-neutralizing bytes after the IP packet */
	if (bpf_check_mtu(skb, ifindex, &mtu, (__s32)(lo->insert + lo->trailer_len + 2), 0) !=
	    BPF_MTU_CHK_RET_FRAG_NEEDED)
		return 0;
	over = lo->insert + sa->icv_len + 2 + 3 + 2;
	room = mtu > over ? mtu - over : 0;
	if (ts->h.family == AF_INET6 && room < 1280)
		room = 1280;
	if (ts->h.family == AF_INET6 || (ts->h.df && room >= 68))
		ts->too_big = room;
	return -ESPX_DROP_MTU;
}

/* 3. Can the SA protect this packet, where does ESP go (ts->lo), and will
 * the result fit out of ifindex (0: this device)? The L4 checksum is
 * completed here, before the MTU check, so that a "too big" answer quotes
 * it complete. */
static __noinline int tx_layout(struct __sk_buff *skb, struct tx_scratch *ts, struct espx_sa *sa,
				__u32 ifindex)
{
	struct tx_layout *lo;
	struct l3 *h;
	int tunnel, encap, r;

	if (!ts || !sa)
		return -ESPX_DROP_INTERNAL;
	h = &ts->h;
	lo = &ts->lo;
	/* the layouts below put ESP after a 14-byte Ethernet header: a
	 * frame carrying its VLAN tag in-band cannot be protected (fail
	 * closed; the stack's VLAN devices hand the tag over out of band
	 * unless reorder_hdr is off) */
	if (h->l3_off != ETH_HLEN_)
		return -ESPX_DROP_VLAN_IN_BAND;
	if (!(sa->flags & ESPX_SA_F_READY))
		return -ESPX_DROP_NO_SA_OUT;
	if (lft_expired(sa))
		return -ESPX_DROP_HARD_LIMIT;
	if (skb->gso_segs > 1) {
		/* a super-packet (forwarded, aggregated): around through the
		 * segmenter, back here one segment at a time */
		__u32 k = skb->ifindex, *seg = bpf_map_lookup_elem(&espx_seg, &k);

		if (!seg)
			return -ESPX_DROP_GSO;
		ts->redirect = *seg;
		return STEP_REDIRECT;
	}
	/* transport mode protects whole datagrams (RFC 4303 s3.3.4), which
	 * the stack has already cut: too big once encapsulated. With IPv6
	 * extension headers ESP would go after them (not done). */
	if (h->frag && sa->mode == ESPX_MODE_TRANSPORT)
		return -ESPX_DROP_MTU;
	if (h->ext && sa->mode == ESPX_MODE_TRANSPORT)
		return -ESPX_DROP_EXTHDR;
	if (ETH_HLEN_ + h->len > skb->len) {
		ts->count_len = skb->len;
		return -ESPX_DROP_TRUNCATED;
	}
	tunnel = sa->mode == ESPX_MODE_TUNNEL;
	encap = !!(sa->flags & ESPX_SA_F_ENCAP);
	if (!tunnel && h->family != sa->family)
		return -ESPX_DROP_SELECTOR;
	/* transport mode keeps a 20-byte IPv4 header (tx_transport_ip4);
	 * with options the packet is refused as receive refuses it */
	if (!tunnel && h->family == AF_INET && h->l4_off != h->l3_off + 20)
		return -ESPX_DROP_MALFORMED;
	r = tx_l4_csum(skb, h, &ts->f);
	if (r)
		return r;
	if (tunnel) {
		lo->payload = h->len;
		lo->nh = h->family == AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_;
		lo->hdrs = (sa->family == AF_INET ? 20 : 40) + (encap ? 8 : 0);
		lo->esp_off = ETH_HLEN_ + lo->hdrs;
	} else {
		lo->payload = h->len - (h->l4_off - h->l3_off);
		lo->nh = h->proto;
		lo->hdrs = encap ? 8 : 0;
		lo->esp_off = h->l4_off + lo->hdrs;
	}
	lo->pad = (4 - ((lo->payload + 2) & 3)) & 3;	/* RFC 4303 s2.4: 4-byte alignment */
	lo->data_len = lo->payload + lo->pad + 2;
	if (lo->data_len > ESPX_GCM_MAX_DATA)
		return -ESPX_DROP_TOO_BIG;
	lo->insert = lo->hdrs + ESP_HDR_LEN;
	lo->trailer_len = lo->pad + 2 + sa->icv_len;
	lo->proto = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
	lo->spi = ts->v.sa.spi;
	/* TCP and UDP get two bytes after the trailer (tx_csum_neutralize) */
	lo->late = !h->frag && (h->proto == IPPROTO_TCP_ || h->proto == IPPROTO_UDP_) ? 2 : 0;
	return tx_path_mtu(skb, ts, sa, ifindex);
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

/* Bytes from the ESP header to the end of the ICV. */
static __always_inline __u32 tx_esp_len(const struct espx_sa *sa, const struct tx_layout *lo)
{
	return ESP_HDR_LEN + lo->data_len + sa->icv_len;
}

/* The ESP trailer: padding 1, 2, ... lo->pad, pad length, next header. */
static __always_inline int tx_put_trailer(struct __sk_buff *skb, const struct tx_layout *lo)
{
	__u32 off = lo->esp_off + ESP_HDR_LEN + lo->payload;
	__u8 trailer[6];
	int i;

	for (i = 0; i < 4; i++)
		trailer[i] = i + 1;
	trailer[lo->pad & 3] = lo->pad;
	trailer[(lo->pad & 3) + 1] = lo->nh;
	/* constant lengths, one per pad (the helper wants a known size) */
	if ((lo->pad == 0 && bpf_skb_store_bytes(skb, off, trailer, 2, 0)) ||
	    (lo->pad == 1 && bpf_skb_store_bytes(skb, off, trailer, 3, 0)) ||
	    (lo->pad == 2 && bpf_skb_store_bytes(skb, off, trailer, 4, 0)) ||
	    (lo->pad == 3 && bpf_skb_store_bytes(skb, off, trailer, 5, 0)))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

/* The ESP header; the IV is the 64-bit sequence number: unique per key. */
static __always_inline int tx_put_esp(struct __sk_buff *skb, const struct tx_layout *lo)
{
	__u32 esp[4];

	esp[0] = lo->spi;
	esp[1] = bpf_htonl((__u32)lo->oseq);
	*(__u64 *)&esp[2] = bswap64(lo->oseq);
	return bpf_skb_store_bytes(skb, lo->esp_off, esp, sizeof(esp), 0) ? -ESPX_DROP_INTERNAL : 0;
}

/* NAT-T: UDP before ESP (RFC 3948), checksum zero. */
static __always_inline int tx_put_udp(struct __sk_buff *skb, const struct espx_sa *sa,
				      const struct tx_layout *lo)
{
	struct udphdr udp = {
		.source = sa->encap_sport,
		.dest = sa->encap_dport,
		.len = bpf_htons(8 + tx_esp_len(sa, lo)),
	};

	return bpf_skb_store_bytes(skb, lo->esp_off - 8, &udp, sizeof(udp), 0) ?
	       -ESPX_DROP_INTERNAL : 0;
}

/* The new Ethernet type, for the outer header of tunnel mode. */
static __always_inline int tx_put_eth_type(struct __sk_buff *skb, __u16 type)
{
	__u16 t = bpf_htons(type);

	return bpf_skb_store_bytes(skb, 12, &t, 2, 0) ? -ESPX_DROP_INTERNAL : 0;
}

/* Tunnel mode, IPv4 outside. */
static __always_inline int tx_outer_ip4(struct __sk_buff *skb, const struct espx_sa *sa,
					const struct l3 *h, const struct tx_layout *lo)
{
	struct iphdr ip;
	__u16 ifrag = 0;

	__builtin_memset(&ip, 0, sizeof(ip));
	*(__u8 *)&ip = 0x45;	/* version 4, 20-byte header */
	ip.tos = tx_outer_tos(h->tos, sa->flags);
	ip.tot_len = bpf_htons(lo->hdrs + tx_esp_len(sa, lo));
	ip.id = (__u16)bpf_get_prandom_u32();
	ip.ttl = 64;
	ip.protocol = lo->proto;
	ip.saddr = sa->saddr[0];
	ip.daddr = sa->daddr[0];
	/* DF as the kernel sets it: the inner IPv4 DF, always for IPv6,
	 * never with nopmtudisc */
	if (sa->flags & ESPX_SA_F_NOPMTUDISC)
		ip.frag_off = 0;
	else if (h->family == AF_INET6)
		ip.frag_off = bpf_htons(IP_DF_);
	else if (!bpf_skb_load_bytes(skb, lo->esp_off + ESP_HDR_LEN + 6, &ifrag, 2))
		ip.frag_off = ifrag & bpf_htons(IP_DF_);
	ip.check = ipv4_csum(&ip);
	if (bpf_skb_store_bytes(skb, ETH_HLEN_, &ip, sizeof(ip), 0))
		return -ESPX_DROP_INTERNAL;
	return tx_put_eth_type(skb, ETH_P_IP);
}

/* Tunnel mode, IPv6 outside. */
static __always_inline int tx_outer_ip6(struct __sk_buff *skb, const struct espx_sa *sa,
					const struct l3 *h, const struct tx_layout *lo)
{
	__u8 tos = tx_outer_tos(h->tos, sa->flags);
	struct ipv6hdr ip6;
	__u8 iflow[4] = {};

	__builtin_memset(&ip6, 0, sizeof(ip6));
	*(__u8 *)&ip6 = 0x60 | (tos >> 4);	/* version 6, traffic class high */
	ip6.payload_len = bpf_htons(lo->hdrs - 40 + tx_esp_len(sa, lo));
	ip6.nexthdr = lo->proto;
	ip6.hop_limit = 64;
	ip6.flow_lbl[0] = (tos & 0xf) << 4;
	/* the flow label is copied from an IPv6 inner packet */
	if (h->family == AF_INET6 &&
	    !bpf_skb_load_bytes(skb, lo->esp_off + ESP_HDR_LEN, iflow, 4)) {
		ip6.flow_lbl[0] |= iflow[1] & 0xf;
		ip6.flow_lbl[1] = iflow[2];
		ip6.flow_lbl[2] = iflow[3];
	}
	__builtin_memcpy(&ip6.saddr, sa->saddr, 16);
	__builtin_memcpy(&ip6.daddr, sa->daddr, 16);
	if (bpf_skb_store_bytes(skb, ETH_HLEN_, &ip6, sizeof(ip6), 0))
		return -ESPX_DROP_INTERNAL;
	return tx_put_eth_type(skb, ETH_P_IPV6);
}

/* Transport mode, IPv4: the packet's own header names ESP (or UDP). */
static __always_inline int tx_transport_ip4(struct __sk_buff *skb, const struct l3 *h,
					    const struct tx_layout *lo)
{
	struct iphdr ip;

	if (h->l4_off != h->l3_off + 20 ||
	    bpf_skb_load_bytes(skb, h->l3_off, &ip, sizeof(ip)))
		return -ESPX_DROP_INTERNAL;
	ip.protocol = lo->proto;
	ip.tot_len = bpf_htons(h->len + lo->insert + lo->trailer_len);
	ip.check = 0;
	ip.check = ipv4_csum(&ip);
	return bpf_skb_store_bytes(skb, h->l3_off, &ip, sizeof(ip), 0) ? -ESPX_DROP_INTERNAL : 0;
}

/* Transport mode, IPv6 (no extension headers: tx_layout refused them). */
static __always_inline int tx_transport_ip6(struct __sk_buff *skb, const struct l3 *h,
					    const struct tx_layout *lo)
{
	struct ipv6hdr ip6;

	if (bpf_skb_load_bytes(skb, h->l3_off, &ip6, sizeof(ip6)))
		return -ESPX_DROP_INTERNAL;
	ip6.nexthdr = lo->proto;
	ip6.payload_len = bpf_htons(h->len - 40 + lo->insert + lo->trailer_len);
	return bpf_skb_store_bytes(skb, h->l3_off, &ip6, sizeof(ip6), 0) ? -ESPX_DROP_INTERNAL : 0;
}

/* Everything but the ciphertext, into the room tx_encap made. */
static __always_inline int tx_write_headers(struct __sk_buff *skb, const struct espx_sa *sa,
					    const struct l3 *h, const struct tx_layout *lo)
{
	int r;

	r = tx_put_trailer(skb, lo);
	if (!r)
		r = tx_put_esp(skb, lo);
	if (!r && lo->proto == IPPROTO_UDP_)
		r = tx_put_udp(skb, sa, lo);
	if (r)
		return r;
	if (sa->mode == ESPX_MODE_TUNNEL)
		return sa->family == AF_INET ? tx_outer_ip4(skb, sa, h, lo) :
		       tx_outer_ip6(skb, sa, h, lo);
	return h->family == AF_INET ? tx_transport_ip4(skb, h, lo) : tx_transport_ip6(skb, h, lo);
}

/* 4. Commit: a sequence number and the lifetime, then room for the new
 * headers and the trailer (and the late-checksum bytes, in one go), and
 * the headers. */
static __noinline int tx_encap(struct __sk_buff *skb, struct tx_scratch *ts, struct espx_sa *sa)
{
	struct tx_layout *lo;
	struct l3 *h;
	__u64 oseq;

	if (!ts || !sa)
		return -ESPX_DROP_INTERNAL;
	h = &ts->h;
	lo = &ts->lo;
	/* a sequence number is never used twice, whatever happens next */
	oseq = __sync_fetch_and_add(&sa->oseq, 1) + 1;
	if (!(sa->flags & ESPX_SA_F_ESN) && oseq > 0xffffffffULL)
		return -ESPX_DROP_SEQ_OVERFLOW;
	if (lft_account(sa, &ts->v.sa, h->len, ESPX_DIR_OUT))
		return -ESPX_DROP_HARD_LIMIT;
	lo->oseq = oseq;
	if (bpf_skb_change_tail(skb, skb->len + lo->trailer_len + lo->late, 0))
		return -ESPX_DROP_INTERNAL;
	if (bpf_skb_adjust_room(skb, lo->insert,
				sa->mode == ESPX_MODE_TUNNEL ? BPF_ADJ_ROOM_MAC : BPF_ADJ_ROOM_NET, 0))
		return -ESPX_DROP_INTERNAL;
	return tx_write_headers(skb, sa, h, lo);
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
 * two bytes are plain Ethernet padding. l4_in_payload: where the L4 header
 * starts in the ciphertext. */
static __noinline int tx_csum_neutralize(struct __sk_buff *skb, struct tx_scratch *ts,
					 __u32 l4_in_payload)
{
	struct gcm_scratch *s = gcm_scratch();
	struct csum_sum c = {};
	__u32 field, end, icv_off, icv_len;
	__u8 *icv;
	__u16 cp, t, n;
	__s64 r;

	if (!ts || !s)
		return -ESPX_DROP_INTERNAL;
	if (ts->h.proto == IPPROTO_TCP_)
		field = l4_in_payload + 16;
	else if (ts->h.proto == IPPROTO_UDP_)
		field = l4_in_payload + 6;
	else
		return 0;	/* nothing checksummed late */
	end = ts->lo.data_len;
	icv_len = ts->lo.trailer_len - ts->lo.pad - 2;
	if (field + 2 > end || end > ESPX_GCM_MAX_DATA || (l4_in_payload & 3) || icv_len > 16)
		return -ESPX_DROP_INTERNAL;
	/* sum of ciphertext from the L4 header on, then the ICV */
	csum_buf(&c, s, l4_in_payload, end);
	icv_off = ts->lo.esp_off + ESP_HDR_LEN + end;
	icv = ts->icmp.msg;
	__builtin_memset(icv, 0, 16);
	if ((icv_len == 16 && bpf_skb_load_bytes(skb, icv_off, icv, 16)) ||
	    (icv_len == 12 && bpf_skb_load_bytes(skb, icv_off, icv, 12)) ||
	    (icv_len == 8 && bpf_skb_load_bytes(skb, icv_off, icv, 8)))
		return -ESPX_DROP_INTERNAL;
	r = bpf_csum_diff(NULL, 0, (void *)icv, 16, c.sum);
	if (r < 0)
		return -ESPX_DROP_INTERNAL;
	t = (__u16)~csum_fold32((__u32)r);	/* folded sum, field included */
	cp = *(__u16 *)&s->buf[field & (ESPX_GCM_MAX_DATA - 2)];
	/* 1 packet in 65536 has ciphertext 0000 where the late checksum goes,
	 * which that write would turn into ffff: dropped, and the sender's
	 * retransmission gets a new sequence number and IV */
	if (cp == 0)
		return -ESPX_DROP_CSUM_COLLISION;
	/* want fold(t + n) == ~cp */
	n = csum16_add((__u16)~cp, (__u16)~t);
	/* tx_encap made room for these two bytes with the trailer */
	if (bpf_skb_store_bytes(skb, skb->len - 2, &n, 2, 0))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

/* 5. Encrypt in place; then keep a late checksum write off the result. */
static __noinline int tx_seal(struct __sk_buff *skb, struct tx_scratch *ts, struct espx_sa *sa)
{
	struct bpf_dynptr pkt;

	if (!ts || !sa || bpf_dynptr_from_skb(skb, 0, &pkt))
		return -ESPX_DROP_CRYPTO;
	if (esp_gcm_crypt(&pkt, sa, ts->lo.esp_off, ts->lo.data_len, (__u32)(ts->lo.oseq >> 32), 0))
		return -ESPX_DROP_CRYPTO;
	if (!ts->lo.late)
		return 0;
	return tx_csum_neutralize(skb, ts, sa->mode == ESPX_MODE_TUNNEL ?
				  ts->h.l4_off - ts->h.l3_off : 0);
}

/* 3 to 5 for one packet and its SA, to leave through ifindex (0: this
 * device). */
static __always_inline int tx_protect(struct __sk_buff *skb, struct tx_scratch *ts,
				      struct espx_sa *sa, __u32 ifindex)
{
	int r;

	r = tx_layout(skb, ts, sa, ifindex);
	if (r)
		return r;
	r = tx_encap(skb, ts, sa);
	if (r)
		return r;
	return tx_seal(skb, ts, sa);
}

/* The way back to a sender whose packet was too big: the device the node
 * would route an answer to it through, its neighbour known, and in ts->fib
 * that answer's source address (BPF_FIB_LOOKUP_SRC) and MACs; 0 for a
 * local sender (or one not routable that way): the answer then goes into
 * this device's receive path. */
static __noinline __u32 tx_too_big_route(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct bpf_fib_lookup *fib;

	if (!ts)
		return 0;
	fib = &ts->fib;
	fib_prep(fib, ts->f.family, skb->ifindex, NULL, ts->f.saddr);
	if (bpf_fib_lookup(skb, fib, sizeof(*fib), BPF_FIB_LOOKUP_SRC) != BPF_FIB_LKUP_RET_SUCCESS ||
	    fib->ifindex == skb->ifindex)
		return 0;
	return fib->ifindex;
}

/* The steps in order; the result as counters.h defines it. */
static __always_inline int tx_steps(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct espx_sa *sa;
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
	return tx_protect(skb, ts, sa, 0);
}

static __always_inline int esp_tx(struct __sk_buff *skb)
{
	struct tx_scratch *ts;
	__u32 zero = 0;
	int r;

	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6) &&
	    skb->protocol != bpf_htons(ETH_P_8021Q_) && skb->protocol != bpf_htons(ETH_P_8021AD_))
		return TC_ACT_OK;
	ts = bpf_map_lookup_elem(&espx_tx_scratch, &zero);
	if (!ts)
		return TC_ACT_OK;
	ts->redirect = 0;
	ts->neigh = 0;
	r = tx_steps(skb, ts);
	step_account(r, ESPX_DIR_OUT, ts->count_len);
	if (r == STEP_REDIRECT)
		return bpf_redirect(ts->redirect, 0);
	if (r >= 0)
		return TC_ACT_OK;
	if (r == -ESPX_DROP_MTU && ts->too_big) {
		/* tell the sender: towards it if forwarded, else from this
		 * device's receive path (icmp.h) */
		__u32 back = tx_too_big_route(skb, ts);

		if (icmp_too_big(skb, &ts->f, &ts->icmp, ts->too_big, back ? &ts->fib : NULL)) {
			count_reason(ESPX_DROP_INTERNAL, ESPX_DIR_OUT, 0);
			return TC_ACT_SHOT;
		}
		return back ? bpf_redirect(back, 0) : bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	}
	return TC_ACT_SHOT;
}

#endif
