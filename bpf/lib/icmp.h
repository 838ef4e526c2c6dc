/* SPDX-License-Identifier: GPL-2.0 */
/* "Too big" answers at TC egress: a packet that will not fit the device
 * once encapsulated becomes an ICMP "fragmentation needed" (IPv4 with DF)
 * or ICMPv6 "packet too big" quoting its start, addressed to its source;
 * the sender's stack lowers its path MTU (TCP its segment size) and tries
 * again. A forwarded packet's answer comes from this node's address on the
 * way back (what icmp_send picks: the caller's FIB lookup with
 * BPF_FIB_LOOKUP_SRC) and leaves through the device towards the sender, as
 * a router sends it; a local sender's comes from the packet's destination
 * and is turned back into the device's receive path (a local source
 * address would be a martian there). */
#ifndef ESPX_BPF_ICMP_H
#define ESPX_BPF_ICMP_H

#include "compat.h"
#include "csum.h"
#include "parse.h"
#include "espx_drop.h"

/* Room for the message being built (per-CPU scratch: TC has no stack to
 * spare for it). */
struct icmp_buf {
	__u8 msg[8 + 80];	/* ICMP header + quoted start of the packet */
	__u8 hdr[40];		/* its IP header */
};

/* The packet at ETH_HLEN_ becomes [hdr][msg]: room for the new IP and
 * ICMP headers, cut after the quote, both written. */
static __always_inline int icmp_put(struct __sk_buff *skb, const void *hdr, __u32 hdr_len,
				    const void *msg, __u32 msg_len)
{
	if (bpf_skb_adjust_room(skb, hdr_len + 8, BPF_ADJ_ROOM_MAC, 0) ||
	    bpf_skb_change_tail(skb, ETH_HLEN_ + hdr_len + msg_len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN_, hdr, hdr_len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN_ + hdr_len, msg, msg_len, 0))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

/* The IPv4 packet at ETH_HLEN_ becomes [IP][ICMP 3/4, next-hop MTU][quote].
 * f: the packet's flow (the answer goes from its destination to its source). */
static __always_inline int icmp4_too_big(struct __sk_buff *skb, const struct flow *f,
					 struct icmp_buf *b, __u32 mtu, const __u32 *src)
{
	struct iphdr *ip = (void *)b->hdr;
	/* IP header and 40 bytes: the 8 RFC 792 asks for, and as many as the
	 * kernel needs to keep the checksum fields in the skb */
	const __u32 quote = 60, msg_len = 8 + quote;
	__u8 *m = b->msg;
	__s64 r;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, m + 8, quote))
		return -ESPX_DROP_INTERNAL;
	m[0] = 3;			/* destination unreachable */
	m[1] = 4;			/* fragmentation needed */
	*(__u16 *)(m + 6) = bpf_htons(mtu);
	r = bpf_csum_diff(NULL, 0, (void *)m, msg_len, 0);
	*(__u16 *)(m + 2) = csum_fold32((__u32)r);
	__builtin_memset(ip, 0, 20);
	*(__u8 *)ip = 0x45;
	ip->tot_len = bpf_htons(20 + msg_len);
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP_;
	ip->saddr = src[0];
	ip->daddr = f->saddr[0];
	ip->check = ipv4_csum(ip);
	return icmp_put(skb, ip, 20, m, msg_len);
}

/* The IPv6 packet at ETH_HLEN_ becomes [IPv6][ICMPv6 2, MTU][quote]. */
static __always_inline int icmp6_too_big(struct __sk_buff *skb, const struct flow *f,
					 struct icmp_buf *b, __u32 mtu, const __u32 *src)
{
	struct ipv6hdr *ip6 = (void *)b->hdr;
	const __u32 quote = 80, msg_len = 8 + quote;
	__u8 *m = b->msg;
	__s64 r;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, m + 8, quote))
		return -ESPX_DROP_INTERNAL;
	m[0] = 2;			/* packet too big */
	*(__u32 *)(m + 4) = bpf_htonl(mtu);
	r = bpf_csum_diff(NULL, 0, (void *)m, msg_len,
			  csum_pseudo(0, f->saddr, src, AF_INET6, IPPROTO_ICMPV6_, msg_len));
	*(__u16 *)(m + 2) = csum_fold32((__u32)r);
	__builtin_memset(ip6, 0, 40);
	*(__u8 *)ip6 = 0x60;
	ip6->payload_len = bpf_htons(msg_len);
	ip6->nexthdr = IPPROTO_ICMPV6_;
	ip6->hop_limit = 64;
	__builtin_memcpy(&ip6->saddr, src, 16);
	__builtin_memcpy(&ip6->daddr, f->saddr, 16);
	return icmp_put(skb, ip6, 40, m, msg_len);
}

/* The answer. route: the FIB's way back to a forwarded packet's sender
 * (source address and MACs from it), or NULL: from the packet's
 * destination, addressed to this device's own MAC (the Ethernet addresses
 * swapped). 0, or -ESPX_DROP_INTERNAL when the packet could not be
 * rewritten; the caller redirects it (route's device, or this device's
 * receive path). */
static __noinline int icmp_too_big(struct __sk_buff *skb, const struct flow *f,
				   struct icmp_buf *b, __u32 mtu, const struct bpf_fib_lookup *route)
{
	const __u32 *src;
	__u8 mac[12];

	if (!f || !b)
		return -ESPX_DROP_INTERNAL;
	__builtin_memset(b->msg, 0, sizeof(b->msg));
	src = !route ? f->daddr : f->family == AF_INET ? &route->ipv4_src : route->ipv6_src;
	if (f->family == AF_INET ? icmp4_too_big(skb, f, b, mtu, src) :
	    icmp6_too_big(skb, f, b, mtu, src))
		return -ESPX_DROP_INTERNAL;
	if (route) {
		__builtin_memcpy(mac, route->dmac, 6);
		__builtin_memcpy(mac + 6, route->smac, 6);
	} else if (bpf_skb_load_bytes(skb, 0, mac + 6, 6) ||
		   bpf_skb_load_bytes(skb, 6, mac, 6)) {
		return -ESPX_DROP_INTERNAL;
	}
	return bpf_skb_store_bytes(skb, 0, mac, 12, 0) ? -ESPX_DROP_INTERNAL : 0;
}

#endif
