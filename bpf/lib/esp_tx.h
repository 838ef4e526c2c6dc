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
 *   tx_fill      the plaintext into the GCM buffer, its TCP/UDP checksum
 *                completed there, the ESP trailer after it
 *   tx_seal      encrypt the buffer, ICV and the bytes that keep a late
 *                checksum write off the ciphertext after it, one write back
 * The payload is read once and written once; the checksums are summed over
 * the buffer the encryption works in (issue 14: fewer passes).
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
	__u8  csum_off;		/* TCP/UDP checksum field in the L4 header; 0: none */
	__u32 l4_in;		/* where the L4 header starts in the payload */
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
	/* tx_write_headers: from the Ethernet type (hdr[6]) to the IV */
	__u8  hdr[8 + 40 + 8 + ESP_HDR_LEN] __attribute__((aligned(8)));
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

/* Where TCP and UDP keep their checksum; 0: no checksum to complete (other
 * protocols, fragments: the stack completed those itself). */
static __always_inline __u8 tx_csum_field(const struct l3 *h)
{
	if (h->frag)
		return 0;
	return h->proto == IPPROTO_TCP_ ? 16 : h->proto == IPPROTO_UDP_ ? 6 : 0;
}

/* The TCP/UDP checksum of the segment at s->buf[off, off + l4_len) whose
 * checksum field is zero and whose bytes up to the next multiple of 4 are
 * zero (off a multiple of 4). */
static __always_inline __u16 tx_l4_sum(struct gcm_scratch *s, __u32 off, __u32 l4_len,
				       const struct flow *f, __u8 proto)
{
	struct csum_sum c = {};
	__u16 res;

	csum_buf(&c, s, off, off + ((l4_len + 3) & ~3U));
	res = csum_fold32(csum_pseudo(c.sum, f->saddr, f->daddr, f->family, proto, l4_len));
	return proto == IPPROTO_UDP_ && res == 0 ? 0xffff : res;
}

/* The L4 checksum the stack left to the device (CHECKSUM_PARTIAL is what
 * TCP always sends, and TC runs before the device would fill it in),
 * completed in the packet itself: only for a "too big" answer, which quotes
 * the packet as it would have been sent. (tx_fill completes it in the
 * encryption's buffer.) */
static __noinline int tx_l4_csum(struct __sk_buff *skb, const struct l3 *h,
				 const struct flow *f, __u32 csum_off)
{
	struct gcm_scratch *s = gcm_scratch();
	__u32 l4_len = h->len - (h->l4_off - h->l3_off);
	__u16 res;

	if (!s || !csum_off || l4_len < 8 || l4_len > CSUM_END - 4)
		return -ESPX_DROP_INTERNAL;
	gcm_zero_block(s, l4_len);
	barrier_var(l4_len);
	if (l4_len < 8 || l4_len > CSUM_END - 4 ||
	    bpf_skb_load_bytes(skb, h->l4_off, s->buf, l4_len))
		return -ESPX_DROP_INTERNAL;
	*(__u16 *)&s->buf[csum_off & 0x1e] = 0;
	res = tx_l4_sum(s, 0, l4_len, f, h->proto);
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
 * the result fit out of ifindex (0: this device)? A "too big" answer quotes
 * the packet with its L4 checksum complete. */
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
	lo->csum_off = tx_csum_field(h);
	if (lo->csum_off) {
		__u32 l4_len = h->len - (h->l4_off - h->l3_off);

		/* no whole TCP/UDP header inside the IP packet (an IPv6
		 * header chain ending past it, a cut header): a malformed
		 * packet, refused before a sequence number is taken */
		if (h->l4_off - h->l3_off > h->len || l4_len < lo->csum_off + 2)
			return -ESPX_DROP_MALFORMED;
	}
	if (tunnel) {
		lo->payload = h->len;
		lo->nh = h->family == AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_;
		lo->hdrs = (sa->family == AF_INET ? 20 : 40) + (encap ? 8 : 0);
		lo->esp_off = ETH_HLEN_ + lo->hdrs;
		lo->l4_in = h->l4_off - h->l3_off;
	} else {
		lo->payload = h->len - (h->l4_off - h->l3_off);
		lo->nh = h->proto;
		lo->hdrs = encap ? 8 : 0;
		lo->esp_off = h->l4_off + lo->hdrs;
		lo->l4_in = 0;
	}
	lo->pad = (4 - ((lo->payload + 2) & 3)) & 3;	/* RFC 4303 s2.4: 4-byte alignment */
	lo->data_len = lo->payload + lo->pad + 2;
	if (lo->data_len > ESPX_GCM_MAX_DATA)
		return -ESPX_DROP_TOO_BIG;
	lo->insert = lo->hdrs + ESP_HDR_LEN;
	lo->trailer_len = lo->pad + 2 + sa->icv_len;
	lo->proto = encap ? IPPROTO_UDP_ : IPPROTO_ESP_;
	lo->spi = ts->v.sa.spi;
	/* TCP and UDP get two bytes after the trailer (tx_csum_neutralize);
	 * their sums end by CSUM_END */
	lo->late = lo->csum_off ? 2 : 0;
	if (lo->late && lo->data_len + 16 > CSUM_END)
		return -ESPX_DROP_TOO_BIG;
	r = tx_path_mtu(skb, ts, sa, ifindex);
	if (r == -ESPX_DROP_MTU && ts->too_big && lo->csum_off) {
		int c = tx_l4_csum(skb, h, &ts->f, lo->csum_off);

		if (c)
			return c;
	}
	return r;
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

/* The ESP header as on the wire: SPI, SN, and the IV, which is the 64-bit
 * sequence number: unique per key. */
static __always_inline void tx_esp_hdr(const struct tx_layout *lo, __u64 *hdr)
{
	hdr[0] = (__u64)lo->spi | (__u64)bpf_htonl((__u32)lo->oseq) << 32;
	hdr[1] = bswap64(lo->oseq);
}

/* Tunnel mode, IPv4 outside. */
static __always_inline void tx_outer_ip4(struct iphdr *ip, const struct espx_sa *sa,
					 const struct l3 *h, const struct tx_layout *lo)
{
	__builtin_memset(ip, 0, sizeof(*ip));
	*(__u8 *)ip = 0x45;	/* version 4, 20-byte header */
	ip->tos = tx_outer_tos(h->tos, sa->flags);
	ip->tot_len = bpf_htons(lo->hdrs + tx_esp_len(sa, lo));
	ip->id = (__u16)bpf_get_prandom_u32();
	ip->ttl = 64;
	ip->protocol = lo->proto;
	ip->saddr = sa->saddr[0];
	ip->daddr = sa->daddr[0];
	/* DF as the kernel sets it: the inner IPv4 DF, always for IPv6,
	 * never with nopmtudisc */
	if (!(sa->flags & ESPX_SA_F_NOPMTUDISC) && (h->family == AF_INET6 || h->df))
		ip->frag_off = bpf_htons(IP_DF_);
	ip->check = ipv4_csum(ip);
}

/* Tunnel mode, IPv6 outside; the flow label is copied from an IPv6 inner
 * packet. */
static __always_inline void tx_outer_ip6(struct ipv6hdr *ip6, const struct espx_sa *sa,
					 const struct l3 *h, const struct tx_layout *lo)
{
	__u8 tos = tx_outer_tos(h->tos, sa->flags);

	__builtin_memset(ip6, 0, sizeof(*ip6));
	*(__u8 *)ip6 = 0x60 | (tos >> 4);	/* version 6, traffic class high */
	ip6->payload_len = bpf_htons(lo->hdrs - 40 + tx_esp_len(sa, lo));
	ip6->nexthdr = lo->proto;
	ip6->hop_limit = 64;
	ip6->flow_lbl[0] = ((tos & 0xf) << 4) | h->flow[0];
	ip6->flow_lbl[1] = h->flow[1];
	ip6->flow_lbl[2] = h->flow[2];
	__builtin_memcpy(&ip6->saddr, sa->saddr, 16);
	__builtin_memcpy(&ip6->daddr, sa->daddr, 16);
}

/* Transport mode: the packet's own IP header, naming ESP (or UDP), longer
 * by what is inserted. IPv4 without options, IPv6 without extension
 * headers (tx_layout refused the others). */
static __always_inline int tx_transport_ip(struct __sk_buff *skb, __u8 *img, const struct l3 *h,
					   const struct tx_layout *lo)
{
	struct ipv6hdr *ip6 = (struct ipv6hdr *)img;
	struct iphdr *ip = (struct iphdr *)img;

	if (h->family == AF_INET) {
		if (h->l4_off != h->l3_off + 20 || bpf_skb_load_bytes(skb, h->l3_off, ip, 20))
			return -ESPX_DROP_INTERNAL;
		ip->protocol = lo->proto;
		ip->tot_len = bpf_htons(h->len + lo->insert + lo->trailer_len);
		ip->check = 0;
		ip->check = ipv4_csum(ip);
		return 0;
	}
	if (bpf_skb_load_bytes(skb, h->l3_off, ip6, 40))
		return -ESPX_DROP_INTERNAL;
	ip6->nexthdr = lo->proto;
	ip6->payload_len = bpf_htons(h->len - 40 + lo->insert + lo->trailer_len);
	return 0;
}

/* Everything new or changed before the ciphertext, from the Ethernet type
 * to the IV (IP header, NAT-T UDP header, ESP header), built in ts->hdr
 * and written in one go into the room tx_encap made. */
static __always_inline int tx_write_headers(struct __sk_buff *skb, struct tx_scratch *ts,
					    const struct espx_sa *sa)
{
	const struct tx_layout *lo = &ts->lo;
	const struct l3 *h = &ts->h;
	__u8 *img = ts->hdr + 8;	/* the IP header, 8-byte aligned */
	__u32 ip_len, *esp;
	__u64 e[2];
	__u16 type;
	int r;

	if (sa->mode == ESPX_MODE_TUNNEL && sa->family == AF_INET) {
		tx_outer_ip4((struct iphdr *)img, sa, h, lo);
		type = bpf_htons(ETH_P_IP);
		ip_len = 20;
	} else if (sa->mode == ESPX_MODE_TUNNEL) {
		tx_outer_ip6((struct ipv6hdr *)img, sa, h, lo);
		type = bpf_htons(ETH_P_IPV6);
		ip_len = 40;
	} else {
		r = tx_transport_ip(skb, img, h, lo);
		if (r)
			return r;
		type = h->eth_proto;
		ip_len = h->family == AF_INET ? 20 : 40;
	}
	*(__u16 *)(ts->hdr + 6) = type;
	if (lo->proto == IPPROTO_UDP_) {
		/* NAT-T: UDP before ESP (RFC 3948), checksum zero */
		struct udphdr *udp = (struct udphdr *)(img + ip_len);

		udp->source = sa->encap_sport;
		udp->dest = sa->encap_dport;
		udp->len = bpf_htons(8 + tx_esp_len(sa, lo));
		udp->check = 0;
	}
	tx_esp_hdr(lo, e);
	if (lo->proto == IPPROTO_UDP_)
		ip_len += 8;	/* from here: the bytes before ESP */
	esp = (__u32 *)(img + ip_len);
	esp[0] = (__u32)e[0];
	esp[1] = (__u32)(e[0] >> 32);
	esp[2] = (__u32)e[1];
	esp[3] = (__u32)(e[1] >> 32);
	return bpf_skb_store_bytes(skb, 12, ts->hdr + 6, 2 + ip_len + ESP_HDR_LEN, 0) ?
	       -ESPX_DROP_INTERNAL : 0;
}

/* 4. Commit: a sequence number and the lifetime, then room for the new
 * headers and the trailer (and the late-checksum bytes, in one go), and
 * the headers. The trailer is written with the ciphertext (tx_seal). */
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
	return tx_write_headers(skb, ts, sa);
}

/* The ESP trailer after the payload in the buffer: padding 1, 2, ...
 * lo->pad, pad length, next header. */
static __always_inline void tx_trailer(struct gcm_scratch *s, const struct tx_layout *lo)
{
	__u32 off = lo->payload;
	int i;

	for (i = 0; i < 3; i++)
		if (i < lo->pad)
			s->buf[(off + i) & (ESPX_GCM_MAX_DATA - 1)] = i + 1;
	s->buf[(off + lo->pad) & (ESPX_GCM_MAX_DATA - 1)] = lo->pad;
	s->buf[(off + lo->pad + 1) & (ESPX_GCM_MAX_DATA - 1)] = lo->nh;
}

/* 5. The plaintext into the GCM buffer: the inner packet (tunnel) or the L4
 * segment (transport), read once. The TCP/UDP checksum is completed there:
 * the stack may have left it to the device (CHECKSUM_PARTIAL is what TCP
 * always sends, and TC runs before the device would fill it in), and after
 * encryption nobody can. Recomputing a complete checksum gives the same
 * value, so this is done for every TCP and UDP packet. Then the trailer. */
static __noinline int tx_fill(struct __sk_buff *skb, struct tx_scratch *ts)
{
	struct gcm_scratch *s = gcm_scratch();
	struct bpf_dynptr pkt;
	struct tx_layout *lo;
	__u32 payload, field;

	if (!ts || !s || bpf_dynptr_from_skb(skb, 0, &pkt))
		return -ESPX_DROP_INTERNAL;
	lo = &ts->lo;
	payload = lo->payload;
	if (!lo->data_len || lo->data_len > ESPX_GCM_MAX_DATA || payload >= lo->data_len)
		return -ESPX_DROP_INTERNAL;
	/* what follows the payload in its block and the data in theirs is
	 * zero: the checksum sums whole words, GHASH whole blocks */
	gcm_zero_block(s, payload);
	gcm_zero_block(s, lo->data_len - 1);
	/* in so many words for older verifiers (6.12 does not carry the
	 * bound over from data_len) */
	barrier_var(payload);
	if (payload > ESPX_GCM_MAX_DATA ||
	    bpf_dynptr_read(s->buf, payload, &pkt, lo->esp_off + ESP_HDR_LEN, 0))
		return -ESPX_DROP_INTERNAL;
	if (lo->csum_off) {
		field = (lo->l4_in + lo->csum_off) & (ESPX_GCM_MAX_DATA - 2);
		*(__u16 *)&s->buf[field] = 0;
		*(__u16 *)&s->buf[field] = tx_l4_sum(s, lo->l4_in, payload - lo->l4_in, &ts->f,
						     ts->h.proto);
	}
	tx_trailer(s, lo);
	return 0;
}

/* The stack hands TCP (and often UDP) over with CHECKSUM_PARTIAL: the
 * device, or the kernel just before it, is to write the L4 checksum at
 * csum_start + csum_offset, summing from csum_start to the end of the frame.
 * tx_fill already completed that checksum inside the plaintext, but a TC
 * program cannot clear the flag, and after encryption those two bytes are
 * ciphertext: the late write would corrupt the packet. So two bytes are
 * appended after the IP packet (receivers trim to the IP length) whose
 * value makes that late checksum equal to the bytes already there: the
 * write changes nothing. Without CHECKSUM_PARTIAL nothing writes, and the
 * two bytes are plain Ethernet padding. The buffer holds the ciphertext and
 * the ICV up to `end`; the two bytes go there. */
static __always_inline int tx_csum_neutralize(struct gcm_scratch *s, const struct tx_layout *lo,
					      __u32 end)
{
	__u32 field = lo->l4_in + lo->csum_off;
	struct csum_sum c = {};
	__u16 cp, t, n;

	if (field + 2 > end || end > CSUM_END || (lo->l4_in & 3) || (end & 3))
		return -ESPX_DROP_INTERNAL;
	/* sum of ciphertext and ICV from the L4 header on */
	csum_buf(&c, s, lo->l4_in, end);
	t = (__u16)~csum_fold32(c.sum);	/* folded sum, field included */
	cp = *(__u16 *)&s->buf[field & (ESPX_GCM_MAX_DATA - 2)];
	/* 1 packet in 65536 has ciphertext 0000 where the late checksum goes,
	 * which that write would turn into ffff: dropped, and the sender's
	 * retransmission gets a new sequence number and IV */
	if (cp == 0)
		return -ESPX_DROP_CSUM_COLLISION;
	/* want fold(t + n) == ~cp */
	n = csum16_add((__u16)~cp, (__u16)~t);
	*(__u16 *)&s->buf[end & (ESPX_GCM_MAX_DATA - 4)] = n;
	return 0;
}

/* 6. Encrypt the buffer in place, the ICV after it, then (TCP, UDP) the
 * bytes that keep a late checksum write off the result; all of it into the
 * packet in one write. */
static __noinline int tx_seal(struct __sk_buff *skb, struct tx_scratch *ts, struct espx_sa *sa)
{
	struct gcm_scratch *s = gcm_scratch();
	struct bpf_crypto_ctx *ctx;
	struct bpf_dynptr pkt;
	struct tx_layout *lo;
	__u32 len, end, *icv;
	__u64 hdr[2], tag[2];
	int r;

	if (!ts || !sa || !s || bpf_dynptr_from_skb(skb, 0, &pkt))
		return -ESPX_DROP_CRYPTO;
	ctx = sa->ctx;
	if (!ctx || !(sa->flags & ESPX_SA_F_READY))
		return -ESPX_DROP_CRYPTO;
	lo = &ts->lo;
	len = lo->data_len;
	if (len > ESPX_GCM_MAX_DATA || (len & 3) ||
	    (sa->icv_len != 8 && sa->icv_len != 12 && sa->icv_len != 16))
		return -ESPX_DROP_CRYPTO;
	tx_esp_hdr(lo, hdr);
	r = aead_usable(sa) ? aead_buf(s, sa, hdr, len, (__u32)(lo->oseq >> 32), 0) :
			      AEAD_NOT_HERE;
	if (r == AEAD_NOT_HERE) {
		esp_gcm_op(&s->op, sa, hdr, lo->esp_off, len, (__u32)(lo->oseq >> 32));
		if (gcm_buf(s, ctx, sa, &s->op, tag, 0))
			return -ESPX_DROP_CRYPTO;
		/* all 16 tag bytes; the next bytes overwrite what is not the ICV */
		icv = (__u32 *)&s->buf[len & (2 * ESPX_GCM_MAX_DATA - 4)];
		icv[0] = (__u32)tag[0];
		icv[1] = (__u32)(tag[0] >> 32);
		icv[2] = (__u32)tag[1];
		icv[3] = (__u32)(tag[1] >> 32);
	} else if (r) {
		return -ESPX_DROP_CRYPTO;
	}
	end = len + sa->icv_len;
	if (lo->late) {
		r = tx_csum_neutralize(s, lo, end);
		if (r)
			return r;
		end += 2;
	}
	if (end > sizeof(s->buf) ||
	    bpf_dynptr_write(&pkt, lo->esp_off + ESP_HDR_LEN, s->buf, end, 0))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

/* 3 to 6 for one packet and its SA, to leave through ifindex (0: this
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
	r = tx_fill(skb, ts);
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
