/* SPDX-License-Identifier: GPL-2.0 */
/* Events from the datapath to user space (ring buffer espx_events): an SA
 * crossed its soft or hard lifetime limit. Each is sent once per SA; in
 * static mode `espx` logs them, the netlink daemon turns them into XFRM
 * expire messages. */
#ifndef ESPX_EVENT_H
#define ESPX_EVENT_H

#include "espx_sa.h"

enum espx_event_type {
	ESPX_EV_SOFT = 1,	/* soft byte or packet limit crossed */
	ESPX_EV_HARD = 2,	/* hard limit: the datapath stopped using the SA */
};

struct espx_event {
	__u32 type;		/* enum espx_event_type */
	__u32 dir;		/* enum espx_dir: which path noticed */
	struct espx_sa_key sa;
	__u64 packets;		/* counters when it happened */
	__u64 bytes;
	__u64 time;		/* CLOCK_BOOTTIME ns */
};

#define ESPX_EVENTS_SIZE	(64 * 1024)

#endif
