/* SPDX-License-Identifier: GPL-2.0 */
/* Flows and XFRM selectors: does a packet's (addresses, protocol, ports)
 * fall under a selector, as xfrm_selector_match() decides. */
#ifndef ESPX_BPF_SELECTOR_H
#define ESPX_BPF_SELECTOR_H

#include "compat.h"
#include "espx_sa.h"

/* The fields of a packet that selectors look at (network order). */
struct flow {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;		/* ICMP: type; 0 if the protocol has no ports */
	__u16 dport;		/* ICMP: code */
	__u8  family;
	__u8  proto;
	__u8  pad[2];
};

/* The first plen bits of a and p agree (words in network order). */
static __always_inline int prefix_match(const __u32 *a, const __u32 *p, __u32 plen, __u8 family)
{
	__u32 i, bits, mask;

	if (family == AF_INET)
		plen = plen > 32 ? 32 : plen;
	else if (plen > 128)
		plen = 128;
#pragma unroll
	for (i = 0; i < 4; i++) {
		if (plen <= i * 32)
			return 1;
		bits = plen - i * 32;
		mask = bits >= 32 ? ~0U : bpf_htonl(~0U << (32 - bits));
		if ((a[i] ^ p[i]) & mask)
			return 0;
	}
	return 1;
}

static __always_inline int sel_match(const struct espx_sel *sel, const struct flow *f)
{
	if (sel->family && sel->family != f->family)
		return 0;
	if (sel->proto && sel->proto != f->proto)
		return 0;
	if ((f->sport ^ sel->sport) & sel->sport_mask)
		return 0;
	if ((f->dport ^ sel->dport) & sel->dport_mask)
		return 0;
	return prefix_match(f->daddr, sel->daddr, sel->prefixlen_d, f->family) &&
	       prefix_match(f->saddr, sel->saddr, sel->prefixlen_s, f->family);
}

#endif
