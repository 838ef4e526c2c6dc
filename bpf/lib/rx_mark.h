/* SPDX-License-Identifier: GPL-2.0 */
/* Telling the kernel which IPv6 packets espx decrypted (ESPX_RX_META and
 * ESPX_RX_MARK in espx_common.h say why): XDP leaves a word in the
 * packet's metadata, the tcx ingress program turns it into skb->mark. */
#ifndef ESPX_BPF_RX_MARK_H
#define ESPX_BPF_RX_MARK_H

#include "compat.h"
#include "espx_common.h"

#ifndef TCX_NEXT
#define TCX_NEXT	-1
#endif

/* XDP, after a decrypted IPv6 packet passed its inbound check. A driver
 * without metadata leaves the packet unmarked: the kernel's check then
 * drops it, as it did before espx marked anything (docs/strongswan.md). */
static __always_inline void rx_meta_put(struct xdp_md *ctx)
{
	void *data, *meta;
	__u32 *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)))
		return;
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	m = meta;
	if ((void *)(m + 1) > data)
		return;
	*m = ESPX_RX_META;
}

/* tcx ingress: espx's word at the front of the metadata marks the packet
 * (metadata another XDP program put in front after espx hides it: no mark,
 * the conservative side); a packet with the mark and without the word
 * loses the mark, so that only espx's XDP can earn it on this device. */
static __always_inline int rx_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *meta = (void *)(long)skb->data_meta;
	__u32 *m = meta;

	if ((void *)(m + 1) <= data && *m == ESPX_RX_META)
		skb->mark = ESPX_RX_MARK;
	else if (skb->mark == ESPX_RX_MARK)
		skb->mark = 0;
	return TCX_NEXT;
}

#endif
