/* SPDX-License-Identifier: GPL-2.0 */
/* bpf_fib_lookup() parameters from a pair of addresses: what the receive
 * policy direction (esp_rx.h), the too-big answer (esp_tx.h) and the pod
 * fast path (redirect.h) ask the FIB. */
#ifndef ESPX_BPF_FIB_H
#define ESPX_BPF_FIB_H

#include "compat.h"

/* Zero fib and set the family, the device and the addresses (saddr may be
 * NULL: none, as for a lookup that derives it). */
static __always_inline void fib_prep(struct bpf_fib_lookup *fib, __u8 family, __u32 ifindex,
				     const __u32 *saddr, const __u32 *daddr)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = family;
	fib->ifindex = ifindex;
	if (family == AF_INET) {
		fib->ipv4_src = saddr ? saddr[0] : 0;
		fib->ipv4_dst = daddr[0];
	} else {
		if (saddr)
			__builtin_memcpy(fib->ipv6_src, saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	}
}

#endif
