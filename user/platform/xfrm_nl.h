/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's XFRM database over netlink (libmnl): what `espx daemon` and
 * the sequence-number handover need.
 *
 *  - sockets (nl.h): one for requests and dumps, one subscribed to the SA,
 *    policy and expire groups.
 *  - decoding: an SA message (NEWSA, UPDSA, a dump entry) becomes the
 *    datapath's struct espx_sa plus key, or a reason espx leaves it to the
 *    kernel; a policy message becomes a struct espx_policy or a reason.
 *  - sending: NEWAE (lifetime counters, replay state) and EXPIRE, the
 *    duties a packet-offload driver has towards the kernel; ACQUIRE, which
 *    the kernel's own output path would raise but cannot under
 *    disable_xfrm.
 * The decoders are pure functions over a message, unit tested without a
 * kernel (tests/unit/test_xfrm_nl.c). */
#ifndef ESPX_XFRM_NL_H
#define ESPX_XFRM_NL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include "espx_sa.h"
#include "espx_policy.h"
#include "espx_event.h"
#include "platform/nl.h"

#ifndef XFRM_SA_XFLAG_OSEQ_MAY_WRAP
#define XFRM_SA_XFLAG_OSEQ_MAY_WRAP	2	/* older linux/xfrm.h lack it */
#endif

/* An XFRM socket (nl.h does the rest). groups: a mask of
 * (1 << (XFRMNLGRP_x - 1)); 0 for a request socket. rcvbuf: the subscribed
 * socket's receive buffer in bytes (0: 8 MiB). 0 or -errno. */
int xnl_open(struct nl *x, unsigned int groups, int rcvbuf);

/* An SA as the kernel has it. */
struct xnl_sa {
	struct espx_sa_key key;
	struct espx_sa sa;		/* config, plus oseq/seq/replay from the kernel */
	uint8_t aes_key[ESPX_AES_MAX_KEY];	/* secret: xnl_sa_wipe() */
	size_t aes_key_len;
	uint8_t proto;
	uint32_t reqid;
	uint64_t k_bytes, k_packets;	/* the kernel's curlft */
	uint64_t k_add_time, k_use_time;	/* seconds since the epoch */
	/* the kernel's replay state, as NEWAE must send it back */
	int esn_attr;			/* XFRMA_REPLAY_ESN_VAL (else XFRMA_REPLAY_VAL) */
	uint32_t bmp_len;		/* words, ESN attr only */
	uint32_t k_window;		/* the kernel's window in packets */
	char why[ESPX_WHY_LEN];		/* non-empty: left to the kernel, and why */
};

/* NEWSA/UPDSA/dump entry -> s. 0 (see s->why), or -EINVAL if malformed. */
int xnl_sa_decode(const struct nlmsghdr *nlh, struct xnl_sa *s);
void xnl_sa_wipe(struct xnl_sa *s);
void xnl_sa_wipe_key(struct xnl_sa *s);

/* DELSA (struct xfrm_usersa_id) -> key. 0 or -EINVAL. */
int xnl_sa_id_decode(const struct nlmsghdr *nlh, struct espx_sa_key *key, uint8_t *proto);

/* A policy as the kernel has it. skip: not for the SPD (socket policy, a
 * sub policy type): ignore. why: one espx cannot carry. */
struct xnl_pol {
	struct espx_policy pol;
	int skip;
	char why[ESPX_WHY_LEN];
};
int xnl_pol_decode(const struct nlmsghdr *nlh, struct xnl_pol *p);

/* Put policies from a dump into the order they would have from events.
 * Among equal priorities XFRM tries the older policy first (a new one is
 * inserted after those of its priority, an update keeps its place), and
 * the daemon keeps its list in that age order (new ones appended); but a
 * dump walks the kernel's list of all policies newest first (each insert,
 * updates included, goes to its head). The kernel's index is 8 * n + dir
 * with n growing from a counter at each new policy and kept by updates, so
 * ascending index is age order. (An index chosen by hand, `ip xfrm policy
 * add ... index N`, is taken as that age.) */
void xnl_pol_sort_age(struct xnl_pol *p, size_t n);
/* The order itself, for arrays of structs that hold an xnl_pol. */
int xnl_pol_age_cmp(const struct xnl_pol *a, const struct xnl_pol *b);

/* DELPOLICY (struct xfrm_userpolicy_id): by index, or by selector + dir
 * (index 0). 0 or -EINVAL. */
int xnl_pol_id_decode(const struct nlmsghdr *nlh, struct espx_sel *sel, uint32_t *index,
		      uint8_t *dir);

/* The kernel's sequence state of an SA (XFRM_MSG_GETAE). */
struct xnl_ae {
	uint64_t oseq, seq;		/* 64-bit (ESN high bits included) */
	uint64_t bytes, packets, add_time, use_time;
	int esn_attr;
	uint32_t bmp_len, window;
	uint32_t bmp[ESPX_REPLAY_MAX / 32];	/* kernel layout */
	int valid;			/* the kernel answered */
};
int xnl_getae(struct nl *x, const struct espx_sa_key *key, struct xnl_ae *ae);
/* The NEWAE answer itself -> ae (fields it lacks left as they were, valid
 * set). 0, or -EINVAL if it is not a well-formed NEWAE. */
int xnl_ae_decode(const struct nlmsghdr *nlh, struct xnl_ae *ae);

/* NEWAE with NLM_F_REPLACE: lifetime counters (always) and, with replay
 * set, the sequence state (its esn_attr/bmp_len/window must be the
 * kernel's, from xnl_getae). */
int xnl_newae(struct nl *x, const struct espx_sa_key *key, const struct xnl_ae *ae,
	      int replay);

/* XFRM_MSG_EXPIRE: tell the kernel a byte/packet limit was reached; with
 * hard the kernel deletes the SA. */
int xnl_expire(struct nl *x, const struct espx_sa_key *key, int hard);

/* XFRM_MSG_ACQUIRE for a datapath report (struct espx_acquire_event), as
 * xfrm_state_find() would raise it: sel is the packet's (host prefixes,
 * full port masks), policy is the one it matched (index, selector, dir
 * out), and the one XFRMA_TMPL is the policy's template with the
 * addresses resolved as xfrm_tmpl_resolve_one() does (transport mode: the
 * packet's). The kernel (xfrm_add_acquire) hands it to the key managers
 * (km_query): the IKE daemon hears it on XFRMNLGRP_ACQUIRE. Builds into
 * nlh (from mnl_nlmsg_put_header); 0 or -EINVAL if ev is not usable. */
int xnl_acquire_build(struct nlmsghdr *nlh, const struct espx_acquire_event *ev);
int xnl_acquire(struct nl *x, const struct espx_acquire_event *ev);

/* XFRM_MSG_EXPIRE (struct xfrm_user_expire): which SA, and hard (the
 * kernel has deleted it, without a DELSA: its own time limits, or the
 * EXPIRE espx sent for a byte/packet limit) or soft. 0 or -EINVAL. */
int xnl_expire_decode(const struct nlmsghdr *nlh, struct espx_sa_key *key, int *hard);

/* XFRM_MSG_POLEXPIRE (struct xfrm_user_polexpire): which policy, and hard
 * (the kernel has deleted it, without a DELPOLICY) or soft. 0 or -EINVAL. */
int xnl_polexpire_decode(const struct nlmsghdr *nlh, uint32_t *index, uint8_t *dir,
			 struct espx_sel *sel, int *hard);

/* The kernel policy that accepts the IPv6 espx decrypted (ESPX_RX_MARK,
 * espx_common.h): dir in, inet6 any -> any, priority 0, mark ESPX_RX_MARK
 * (all 32 bits), action allow, no template. add: create or replace it;
 * else delete it (gone already is fine). 0 or -errno. */
int xnl_rx_mark_policy(int add);
/* 1 if that policy is in the kernel, 0 if not, or -errno. */
int xnl_rx_mark_policy_get(void);
/* Is it needed: does a kernel policy check what espx decrypts, that is an
 * inbound policy for IPv6 (or any family) with a required template? Only
 * then, as one more inbound policy makes the kernel look up every packet
 * that arrives on any device, which no policy at all spares it. The test
 * for one policy, and the kernel's answer (1, 0 or -errno). */
int xnl_pol_needs_rx_mark(const struct espx_policy *p);
int xnl_rx_mark_needed(void);
/* Is this policy (the payload of a NEWPOLICY or dump entry, and its mark)
 * that one? The daemon does not mirror it. */
int xnl_pol_is_rx_mark(const struct xfrm_userpolicy_info *u, const struct xfrm_mark *m, int ntmpl);

/* Replay windows between the kernel's layout (bit (s-1) % W for number s,
 * or for the 32-bit legacy state bit top - s) and espx's (bit s % 4096). */
void xnl_window_to_espx(const struct xnl_ae *ae, __u64 replay[ESPX_REPLAY_WORDS]);
void xnl_window_from_espx(struct xnl_ae *ae, uint64_t top,
			  const __u64 replay[ESPX_REPLAY_WORDS]);

#endif
