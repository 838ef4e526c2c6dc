// SPDX-License-Identifier: GPL-2.0
/* espx datapath entry points: XDP on receive, TC egress on transmit, the SA
 * set-up programs and the namespace anchor. The ESP logic lives in bpf/lib/,
 * one header per step:
 * parse.h, selector.h, policy.h, replay.h, lifetime.h, csum.h, icmp.h,
 * esp_gcm.h (GCM over ESP), esp_rx.h (decapsulation), esp_tx.h
 * (encapsulation), redirect.h (the pod fast path); counters.h says what
 * every step returns. */
#include "lib/compat.h"
#include "lib/maps.h"
#include "lib/sa_setup.h"
#include "lib/esp_rx.h"
#include "lib/esp_tx.h"
#include "lib/redirect.h"
#include <xdp/xdp_helpers.h>

/* Under libxdp's dispatcher: run early, and let programs after espx see
 * what it passes (decrypted packets and everything not ESP). */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(espx_xdp_rx);

SEC("xdp")
int espx_xdp_rx(struct xdp_md *ctx)
{
	int r = esp_rx(ctx);

	return r == XDP_PASS ? rx_redirect(ctx) : r;
}

SEC("tc")
int espx_tc_tx(struct __sk_buff *skb)
{
	return esp_tx(skb);
}

/* tcx ingress of espx's devices: the IPv6 espx decrypted gets the mark the
 * kernel's inbound policy check accepts (bpf/lib/rx_mark.h). */
SEC("tc")
int espx_tc_rx(struct __sk_buff *skb)
{
	return rx_mark(skb);
}

/* The pod fast path's transmit side, at tcx ingress of a pod's veth
 * (`espx attach VETH --redirect`, bpf/lib/redirect.h). */
SEC("tc")
int espx_pod_tx(struct __sk_buff *skb)
{
	return pod_tx(skb);
}

/* Segments from the GSO segmenter's veth (user/platform/segment.h) go back out of
 * the device they came from, into espx_tc_tx. */
SEC("tc")
int espx_seg_rx(struct __sk_buff *skb)
{
	__u32 k = skb->ifindex, *dev = bpf_map_lookup_elem(&espx_seg, &k);

	return dev ? bpf_redirect(*dev, 0) : TC_ACT_SHOT;
}

/* The namespace anchor (user/platform/nsstate.h): attached to a network
 * namespace through a pinned link, it tells whether that namespace still
 * lives. It lets every socket lookup go on as if it were not there. */
SEC("sk_lookup")
int espx_anchor(struct bpf_sk_lookup *ctx)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
