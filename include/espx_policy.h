/* SPDX-License-Identifier: GPL-2.0 */
/* Security policies, as the kernel's xfrm_policy: a selector, a direction,
 * a priority, an action and (for ESP) one template naming the SA to use.
 *
 * User space keeps each direction's policies in priority order (lower value
 * first, then older first, as XFRM does) and gives each its rank in that
 * order; the datapath takes the matching policy of lowest rank. Almost all
 * of them live in espx_policy_hash, found by one lookup per prefix-length
 * class (below); the rest in the slots of espx_policy, found through
 * candidate bitmaps. Both have two halves: a new table is written to the
 * inactive one and then made active in one write (espx_config), so a packet
 * never sees a half-written table. */
#ifndef ESPX_POLICY_H
#define ESPX_POLICY_H

#include "espx_sa.h"

#define ESPX_MAX_POLICY		256	/* in slots, per direction and half */
#define ESPX_MAX_HASH_POLICY	16384	/* hashed, per direction and half */
#define ESPX_POL_CLASSES	16	/* prefix-length classes per direction and family */
#define ESPX_POL_DEPTH		16	/* hashed policies with one key (a chain) */
/* What user space holds of one direction: both kinds. */
#define ESPX_POL_TABLE_MAX	(ESPX_MAX_POLICY + ESPX_MAX_HASH_POLICY)

enum espx_pol_dir {
	ESPX_POL_IN = 0,	/* XFRM_POLICY_IN: what must arrive protected */
	ESPX_POL_OUT = 1,	/* XFRM_POLICY_OUT: what must leave protected */
	ESPX_POL_FWD = 2,	/* XFRM_POLICY_FWD: kept for listings, not used */
	ESPX_POL__MAX,
};

enum espx_pol_action {
	ESPX_POL_ALLOW = 0,	/* XFRM_POLICY_ALLOW: protect per template, or pass */
	ESPX_POL_BLOCK = 1,	/* XFRM_POLICY_BLOCK: drop */
};

/* The one template (struct xfrm_user_tmpl) espx supports: ESP, and which SA. */
struct espx_tmpl {
	__u32 saddr[4];		/* tunnel endpoints (tunnel mode); zero in transport */
	__u32 daddr[4];
	__u32 spi;		/* network order; 0: any */
	__u32 reqid;		/* 0: any */
	__u8  family;		/* of saddr/daddr */
	__u8  mode;		/* enum espx_mode */
	__u8  optional;		/* "level use": no SA is not an error */
	__u8  pad;
};

#define ESPX_POL_F_TMPL		(1U << 0)	/* has a template: requires ESP */
#define ESPX_POL_F_HASH		(1U << 1)	/* in espx_policy_hash */
#define ESPX_POL_F_MORE		(1U << 2)	/* hashed: another follows at seq + 1 */

struct espx_policy {
	struct espx_sel sel;
	__u32 priority;
	__u32 index;		/* xfrm policy index, for listings and deletes */
	__u8  dir;		/* enum espx_pol_dir */
	__u8  action;		/* enum espx_pol_action */
	__u16 flags;		/* ESPX_POL_F_* */
	struct espx_tmpl tmpl;
	/* Out: the SA the template resolves to, kept current by user space
	 * (the newest usable SA wins during a rekey, as in the kernel).
	 * spi == 0: none, and the datapath drops what the policy covers. */
	struct espx_sa_key sa;
	/* Position in its direction's XFRM order (priority, then age): of
	 * all the policies that match, the lowest rank wins. */
	__u32 rank;
	__u32 pad2;
};

/* espx_policy_hash: the policies of a family (IPv4 or IPv6), found as
 * XFRM's inexact bins find them, so that 10,000 subnet or port policies
 * cost a packet what one does. A policy's class is its pair of prefix
 * lengths (destination, source) and which of protocol, destination port
 * and source port its selector names exactly (ESPX_PK_*: a port only with
 * a protocol and a full mask); its key is the class, its addresses masked
 * to those lengths and the exact fields. A packet builds the key of each
 * class present (espx_config.cls) from its own addresses, protocol and
 * ports: one lookup per class finds the only policies of that class that
 * can match. Policies with the same key (they differ in port ranges) are a
 * chain, seq 0, 1, ... in rank order, each flagged ESPX_POL_F_MORE but the
 * last; the first of them that matches in full is the class's answer.
 * Classes beyond ESPX_POL_CLASSES and chains beyond ESPX_POL_DEPTH go to
 * the slots.
 *
 * When a packet's ports (a later fragment) or protocol (an IPv6 header
 * chain not walked) are unknown, a class keyed on them cannot be looked up
 * exactly. For those there are summaries: under seq ESPX_SEQ_NOPORTS the
 * key without ports, under ESPX_SEQ_ADDRS the key without protocol and
 * ports, each holding the lowest-ranked policy with that key: the first
 * that could select such a packet. */
#define ESPX_PK_PROTO		(1U << 0)
#define ESPX_PK_DPORT		(1U << 1)
#define ESPX_PK_SPORT		(1U << 2)
#define ESPX_SEQ_ADDRS		254
#define ESPX_SEQ_NOPORTS	255

struct espx_pol_hash_key {
	__u32 saddr[4];		/* masked to prefixlen_s; IPv4 in saddr[0] */
	__u32 daddr[4];		/* masked to prefixlen_d */
	__u16 dport;		/* network order; 0 unless ESPX_PK_DPORT */
	__u16 sport;		/* 0 unless ESPX_PK_SPORT */
	__u8  family;
	__u8  dir;
	__u8  half;		/* which table half it belongs to */
	__u8  seq;		/* place in its chain, or a summary (ESPX_SEQ_*) */
	__u8  prefixlen_d;
	__u8  prefixlen_s;
	__u8  proto;		/* 0 unless ESPX_PK_PROTO */
	__u8  kflags;		/* ESPX_PK_*: the class's exact fields */
};

/* A class present in a (half, dir, family): its prefix lengths, exact
 * fields and the lowest rank among its policies (classes are kept in that
 * order, so that a lookup stops at the first class that cannot beat what
 * it found). */
struct espx_pol_class {
	__u8  prefixlen_d;
	__u8  prefixlen_s;
	__u8  kflags;
	__u8  pad;
	__u32 best_rank;
	__u32 dmask[4];		/* the prefixes as masks, network order: no */
	__u32 smask[4];		/* branch per word in the datapath */
};

/* espx_pol_lpm: which scanned policies could match an address, so that a
 * packet no policy covers costs two trie lookups, not a scan (the kernel's
 * inexact bins play this part in XFRM). For every distinct selector prefix
 * P of a (half, dir, family, which) table there is one entry whose value
 * has bit i set for each scanned slot i (ESPX_POL_SLOT(half, dir, i))
 * whose selector prefix contains P (its family equal or 0). The longest
 * entry containing an address then names exactly the policies whose prefix
 * contains the address: any prefix containing the address and no longer
 * than the match contains the match. Candidates for a packet are the AND
 * of its destination and source lookups; the full selector decides. */
#define ESPX_POL_WORDS		(ESPX_MAX_POLICY / 64)
#define ESPX_LPM_DADDR		0
#define ESPX_LPM_SADDR		1
#define ESPX_LPM_HDR_BITS	32	/* family, dir, half, which */
#define ESPX_POL_LPM_MAX	(2 * ESPX_POL__MAX * 2 * 2 * (ESPX_MAX_POLICY + 1))

struct espx_pol_lpm_key {
	__u32 prefixlen;	/* ESPX_LPM_HDR_BITS + the address prefix length */
	__u8  family;
	__u8  dir;
	__u8  half;
	__u8  which;		/* ESPX_LPM_DADDR or ESPX_LPM_SADDR */
	__u32 addr[4];		/* network order; IPv4 in addr[0] */
};

struct espx_pol_bits {
	__u64 w[ESPX_POL_WORDS];	/* bit i of w[i / 64]: slot i */
};

/* espx_pol_bin: the same for protocol and ports, so that a packet inside
 * the prefixes of many port-specific policies still finds its candidates
 * by lookup, not by walking them. Per (half, dir):
 *   PROTO p      scanned slots whose selector protocol is p or any (0)
 *   PROTO_ANY    those whose selector protocol is any
 *   DPORT v      slots whose destination port selector admits v: no
 *                port, a full mask with port v, or a partial mask (any
 *                partial mask is put in every entry; sel_match decides)
 *   DPORT_ANY    slots with no or a partial destination port selector
 *   SPORT v, SPORT_ANY  the same for the source port (ICMP: type/code)
 * An exact entry exists for each value some selector names; a value no
 * selector names takes the ANY entry; no ANY entry: no candidate. Ports
 * are in network order, as in espx_sel and the datapath's flow. */
enum espx_bin_kind {
	ESPX_BIN_PROTO = 0,
	ESPX_BIN_PROTO_ANY = 1,
	ESPX_BIN_DPORT = 2,
	ESPX_BIN_DPORT_ANY = 3,
	ESPX_BIN_SPORT = 4,
	ESPX_BIN_SPORT_ANY = 5,
};

struct espx_pol_bin_key {
	__u8  half;
	__u8  dir;
	__u8  kind;		/* enum espx_bin_kind */
	__u8  pad;
	__u16 value;		/* protocol, or port in network order; 0 for ANY */
	__u16 pad2;
};

/* Per (half, dir): 256 protocols at most, and up to 2 x 256 port values. */
#define ESPX_POL_BIN_MAX	(2 * ESPX_POL__MAX * (3 * ESPX_MAX_POLICY + 8))

/* espx_ike: pairs of addresses between which UDP 500 and 4500 is IKE (and
 * NAT-T keepalives) and bypasses policy, as the IKE daemon's socket
 * policies let it in the kernel: the outer addresses of every SA and of
 * every tunnel template, in both orders. Anything else to or from those
 * ports is decided by policy like any packet. */
struct espx_ike_key {
	__u32 local[4];
	__u32 remote[4];
	__u8  family;
	__u8  pad[3];
};

/* espx_config: which half of espx_policy is live and how full it is. */
struct espx_config {
	__u32 active;				/* generation: +1 per switch; the live
						 * half is active & 1. A lookup that
						 * sees it change has read a half that
						 * may be being rewritten (policy.h) */
	__u32 count[2][ESPX_POL__MAX];		/* policies in slots per half and direction */
	__u32 nhash[2][ESPX_POL__MAX];		/* hashed ones (espx_policy_hash) */
	__u32 flags;				/* unused, zero */
	__u32 pad;
	/* Transition guard: until this CLOCK_BOOTTIME ns, transmit drops what
	 * a policy would protect (attach, detach and unload set it while the
	 * kernel's ESP and espx hand over, so that in between protected
	 * traffic is dropped, never sent in plaintext nor numbered by both).
	 * A deadline, not a flag: a command killed in between cannot leave
	 * traffic blocked for good. 0: no guard. */
	__u64 guard_until;
	/* The classes of espx_policy_hash per half, direction and family
	 * (0: IPv4, 1: IPv6), in order of best rank. */
	__u8  ncls[2][ESPX_POL__MAX][2];
	__u32 pad3;
	struct espx_pol_class cls[2][ESPX_POL__MAX][2][ESPX_POL_CLASSES];
};

/* Index of a policy slot in espx_policy. */
#define ESPX_POL_SLOT(half, dir, i) \
	(((half) * ESPX_POL__MAX + (dir)) * ESPX_MAX_POLICY + (i))
#define ESPX_POL_SLOTS		(2 * ESPX_POL__MAX * ESPX_MAX_POLICY)

#endif
