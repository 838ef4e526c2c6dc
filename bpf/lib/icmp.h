/* SPDX-License-Identifier: GPL-2.0 */
/* "Too big" answers at TC egress: a packet that will not fit the device
 * once encapsulated becomes an ICMP "fragmentation needed" (IPv4 with DF)
 * or ICMPv6 "packet too big" quoting its start, from its destination to
 * its source, as a router on the path would send it. The caller turns it
 * around into the device's receive path; the sender's stack lowers its
 * path MTU (TCP its segment size) and tries again. */
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
					 struct icmp_buf *b, __u32 mtu)
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
	ip->saddr = f->daddr[0];
	ip->daddr = f->saddr[0];
	ip->check = ipv4_csum(ip);
	return icmp_put(skb, ip, 20, m, msg_len);
}

/* The IPv6 packet at ETH_HLEN_ becomes [IPv6][ICMPv6 2, MTU][quote]. */
static __always_inline int icmp6_too_big(struct __sk_buff *skb, const struct flow *f,
					 struct icmp_buf *b, __u32 mtu)
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
			  csum_pseudo(0, f->saddr, f->daddr, AF_INET6, IPPROTO_ICMPV6_, msg_len));
	*(__u16 *)(m + 2) = csum_fold32((__u32)r);
	__builtin_memset(ip6, 0, 40);
	*(__u8 *)ip6 = 0x60;
	ip6->payload_len = bpf_htons(msg_len);
	ip6->nexthdr = IPPROTO_ICMPV6_;
	ip6->hop_limit = 64;
	__builtin_memcpy(&ip6->saddr, f->daddr, 16);
	__builtin_memcpy(&ip6->daddr, f->saddr, 16);
	return icmp_put(skb, ip6, 40, m, msg_len);
}

/* The answer, addressed back to this device's own MAC (the Ethernet
 * addresses swapped). 0, or -ESPX_DROP_INTERNAL when the packet could not
 * be rewritten; the caller redirects it into the receive path. */
static __noinline int icmp_too_big(struct __sk_buff *skb, const struct flow *f,
				   struct icmp_buf *b, __u32 mtu)
{
	__u8 mac[12];

	if (!f || !b)
		return -ESPX_DROP_INTERNAL;
	__builtin_memset(b->msg, 0, sizeof(b->msg));
	if ((f->family == AF_INET ? icmp4_too_big(skb, f, b, mtu) : icmp6_too_big(skb, f, b, mtu)) ||
	    bpf_skb_load_bytes(skb, 0, mac, 12) ||
	    bpf_skb_store_bytes(skb, 0, mac + 6, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, mac, 6, 0))
		return -ESPX_DROP_INTERNAL;
	return 0;
}

#endif
