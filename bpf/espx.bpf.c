/* SPDX-License-Identifier: GPL-2.0 */
/* espx datapath entry points: XDP on receive, TC on transmit, and the SA
 * set-up programs. The ESP logic lives in bpf/lib/, one header per step. */
#include "lib/compat.h"
#include "lib/maps.h"
#include "lib/sa_setup.h"

/* Receive. Until ESP decapsulation lands (datapath issue), the program
 * passes every packet to the stack untouched: attaching espx changes nothing
 * for traffic, which is what `espx attach` reports today. */
SEC("xdp")
int espx_xdp_rx(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Transmit (TC egress); same status as espx_xdp_rx. */
SEC("tc")
int espx_tc_tx(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
