/* SPDX-License-Identifier: GPL-2.0 */
/* Events from the datapath to user space (ring buffer espx_events):
 *  - an SA crossed its soft or hard lifetime limit (struct espx_event),
 *    sent once per SA; the netlink daemon turns it into an XFRM EXPIRE.
 *  - outbound traffic matched a policy whose template has no SA and was
 *    dropped as policy-without-sa (struct espx_acquire_event), at most once
 *    a second per (policy, destination); the daemon turns it into an XFRM
 *    ACQUIRE, which the kernel cannot raise itself under disable_xfrm.
 * Every event starts with type and dir; readers switch on type first.
 * `espx monitor` prints them all. */
#ifndef ESPX_EVENT_H
#define ESPX_EVENT_H

#include "espx_sa.h"
#include "espx_policy.h"

enum espx_event_type {
	ESPX_EV_SOFT = 1,	/* soft byte or packet limit crossed */
	ESPX_EV_HARD = 2,	/* hard limit: the datapath stopped using the SA */
	ESPX_EV_ACQUIRE = 3,	/* no SA for an outbound policy: struct espx_acquire_event */
};

struct espx_event {
	__u32 type;		/* enum espx_event_type */
	__u32 dir;		/* enum espx_dir: which path noticed */
	struct espx_sa_key sa;
	__u64 packets;		/* counters when it happened */
	__u64 bytes;
	__u64 time;		/* CLOCK_BOOTTIME ns */
};

/* ESPX_EV_ACQUIRE: what an XFRM ACQUIRE carries (struct xfrm_user_acquire
 * and its template): the packet's selector fields, the policy it matched
 * and that policy's template, as espx stores them. */
struct espx_acquire_event {
	__u32 type;		/* ESPX_EV_ACQUIRE */
	__u32 dir;		/* enum espx_dir: ESPX_DIR_OUT */
	__u64 time;		/* CLOCK_BOOTTIME ns */
	/* the packet (the datapath's flow) */
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;		/* network order; ICMP: type */
	__u16 dport;		/* ICMP: code */
	__u8  family;
	__u8  proto;
	__u8  pol_dir;		/* enum espx_pol_dir of the policy */
	__u8  pad;
	/* the policy */
	__u32 index;
	__u32 priority;
	struct espx_sel sel;
	struct espx_tmpl tmpl;
};

/* espx_acq: when an ACQUIRE was last reported, per (policy, destination) */
struct espx_acq_key {
	__u32 daddr[4];
	__u32 index;		/* the policy's */
	__u8  family;
	__u8  pad[3];
};

#define ESPX_ACQ_INTERVAL_NS	1000000000ULL	/* at most one report a second */
#define ESPX_ACQ_MAX		1024

#define ESPX_EVENTS_SIZE	(64 * 1024)

#endif
