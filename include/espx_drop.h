/* SPDX-License-Identifier: GPL-2.0 */
/* Drop (and pass-through) reasons, shared by the datapath and `espx stats`.
 * On receive, no-sa (ESP for an SPI espx does not own), fragment-passed and
 * ike-bypass count packets handed to the kernel untouched; on transmit,
 * ike-bypass counts IKE packets between the local IKE endpoint and its peer
 * sent without policy lookup. Everything else is a drop:
 *   fragment-undecided  a fragment without ports whose datagram's decision
 *                       is not known and could be "protect" (fail closed)
 *   esp-fragment        fragmented ESP for an SA espx owns: the kernel would
 *                       reassemble and decrypt it with a copy whose replay
 *                       window espx does not keep current
 *   inbound-template-mismatch  decrypted, but the in/fwd policy for the
 *                       inner packet blocks it or names another SA
 *   inbound-no-policy   decrypted in tunnel mode, and no in/fwd policy
 *                       covers the inner packet (XFRM's XfrmInNoPols)
 *   ipv6-ext-header     an IPv6 header chain espx does not walk to its end
 *                       (too long, or transport mode with extension headers)
 *   transition-guard    protected traffic while espx and the kernel's ESP
 *                       hand an SA over (espx_config.guard_until)
 *   policy-changed      the policy table was switched while the packet was
 *                       being decided, and again on the retry (a lookup may
 *                       have read a half being rewritten): not guessed
 *   vlan-in-band        transmit: a frame with its VLAN tag in the frame
 *                       (not in the skb's metadata) that a policy protects:
 *                       espx cannot encapsulate behind the tag
 * and fast-path counts what the pod fast path (bpf/lib/redirect.h) took:
 * in, decrypted packets redirected into a pod's veth; out, pod packets
 * encrypted at the pod's veth (or sent to the segmenter) and redirected.
 * One X-macro list gives the enum and the names. Values are never renumbered:
 * retire a reason by renaming it RESERVED_n, and only append new ones. */
#ifndef ESPX_DROP_H
#define ESPX_DROP_H

#define ESPX_DROP_REASONS(X)						\
	X(NONE,		0,  "none")					\
	X(MALFORMED,	1,  "malformed")				\
	X(TRUNCATED,	2,  "truncated")				\
	X(NO_SA,	3,  "no-sa")					\
	X(REPLAY,	4,  "replay")					\
	X(REPLAY_OLD,	5,  "replay-left-of-window")			\
	X(ICV,		6,  "icv-mismatch")				\
	X(PAD,		7,  "bad-padding")				\
	X(NEXT_HDR,	8,  "bad-next-header")				\
	X(SELECTOR,	9,  "selector-mismatch")			\
	X(POLICY_BLOCK,	10, "policy-block")				\
	X(NO_SA_OUT,	11, "policy-without-sa")			\
	X(PLAINTEXT,	12, "plaintext-on-protected-selector")		\
	X(SEQ_OVERFLOW,	13, "seq-overflow")				\
	X(HARD_LIMIT,	14, "hard-limit")				\
	X(TOO_BIG,	15, "too-big")					\
	X(CRYPTO,	16, "crypto-error")				\
	X(NO_CTX,	17, "sa-not-ready")				\
	X(MTU,		18, "mtu-exceeded")				\
	X(INTERNAL,	19, "internal")					\
	X(FRAGMENT,	20, "fragment-passed")				\
	X(GSO,		21, "gso-packet")				\
	X(BYPASS,	22, "ike-bypass")					\
	X(CSUM_COLLISION, 23, "checksum-collision")			\
	X(FRAG_UNDECIDED, 24, "fragment-undecided")			\
	X(ESP_FRAGMENT,	25, "esp-fragment")				\
	X(IN_TMPL,	26, "inbound-template-mismatch")		\
	X(IN_NO_POLICY,	27, "inbound-no-policy")			\
	X(EXTHDR,	28, "ipv6-ext-header")				\
	X(GUARD,	29, "transition-guard")				\
	X(FAST_PATH,	30, "fast-path")					\
	X(VLAN_IN_BAND,	31, "vlan-in-band")					\
	X(POLICY_CHANGED, 32, "policy-changed")

enum espx_drop_reason {
#define ESPX_DROP_ENUM(name, val, str) ESPX_DROP_##name = val,
	ESPX_DROP_REASONS(ESPX_DROP_ENUM)
#undef ESPX_DROP_ENUM
	ESPX_DROP__MAX,
};

/* Direction index for the drop counters. */
enum espx_dir {
	ESPX_DIR_IN  = 0,	/* XDP, receive */
	ESPX_DIR_OUT = 1,	/* TC egress, transmit */
	ESPX_DIR__MAX,
};

/* Per-CPU counter slot, key = reason * ESPX_DIR__MAX + dir. */
struct espx_drop_count {
	__u64 packets;
	__u64 bytes;
};

#ifndef __bpf__
static inline const char *espx_drop_name(unsigned int r)
{
	switch (r) {
#define ESPX_DROP_CASE(name, val, str) case val: return str;
	ESPX_DROP_REASONS(ESPX_DROP_CASE)
#undef ESPX_DROP_CASE
	}
	return "unknown";
}
#endif

#endif
