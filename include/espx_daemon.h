/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's heartbeat: one element of the pinned array map espx_daemon
 * (bpf/lib/maps.h). Only user space touches it: `espx daemon` writes it at
 * start and every interval, and clears it (beat_ns 0) when it stops
 * cleanly; `espx status` reads it to say whether kernel XFRM changes are
 * being mirrored right now (user/platform/heartbeat.h decides).
 *
 * Why a pinned map and not a file under /run/espx: the daemon mirrors one
 * network namespace's XFRM database into that namespace's pin directory,
 * and the heartbeat describes exactly that state. Kept beside it, it is
 * found by the same lookup every command already makes (espx_pin_root:
 * `ip netns exec`, containers and the host alike), it has the same owner
 * and mode (root, 0600), and it goes with the rest: `espx unload` removes
 * it and a fresh load starts with "no daemon". A file would need a second
 * mapping from namespace to name and could outlive the maps it speaks of. */
#ifndef ESPX_DAEMON_HB_H
#define ESPX_DAEMON_HB_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct espx_daemon_hb {
	__u64 beat_ns;		/* CLOCK_BOOTTIME of the last heartbeat; 0: no
				 * daemon (never ran here, or stopped cleanly) */
	__u64 start_ns;		/* CLOCK_BOOTTIME the daemon started */
	__u64 proc_start;	/* the process's start time (/proc/PID/stat
				 * field 22, clock ticks since boot): a pid
				 * reused by another process is not the daemon */
	__u32 pid;
	__u32 interval_ms;	/* how often it beats */
};

#endif
