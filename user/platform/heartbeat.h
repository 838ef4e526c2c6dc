/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's heartbeat (include/espx_daemon.h): writing it, reading it,
 * and telling from it whether a daemon mirrors the kernel's XFRM database
 * right now.
 *
 * While no daemon runs (killed, crashed, not yet restarted) the datapath
 * keeps the last state it was given: SAs the kernel deleted meanwhile stay
 * in use and new ones are not carried until a daemon resyncs. `espx status`
 * makes that window visible:
 *   none     no heartbeat: no daemon ever ran here, or it stopped cleanly
 *            (SIGTERM clears it; the devices were handed back then)
 *   running  the process that wrote it is alive and beat recently
 *   stale    the process is gone (kill -9, crash: told at once, not after
 *            some intervals), or alive but silent for more than
 *            hb_stale_after_ms (stuck, stopped) */
#ifndef ESPX_HEARTBEAT_H
#define ESPX_HEARTBEAT_H

#include <stddef.h>
#include <sys/types.h>
#include "espx_daemon.h"

enum hb_state { HB_NONE, HB_RUNNING, HB_STALE };

/* The longest a running daemon may be silent: three intervals, plus the
 * LOCK_WAIT_MS (2 s) its loop may spend waiting for the command lock. */
#define HB_MISSED_BEATS		3
#define HB_SLACK_MS		2000
__u64 hb_stale_after_ms(__u32 interval_ms);

/* The decision, pure: hb as read, now (CLOCK_BOOTTIME ns), whether its
 * process is alive; *age_ms gets the time since the last beat. */
enum hb_state hb_decide(const struct espx_daemon_hb *hb, __u64 now_ns, int alive,
			__u64 *age_ms);
const char *hb_state_name(enum hb_state s);

/* One line for `espx status` (no newline). */
void hb_describe(char *buf, size_t n, enum hb_state s, const struct espx_daemon_hb *hb,
		 __u64 age_ms, int alive);

/* Field 22 (starttime) of a /proc/PID/stat line; 0 or -EINVAL. The command
 * name (field 2) may hold spaces and parentheses: counted from the last ')'. */
int hb_stat_starttime(const char *line, __u64 *start);
/* The start time of pid from /proc; 0 when it cannot be read. */
__u64 hb_proc_start(pid_t pid);

/* Is the process that wrote hb still there (and the same process)? Also
 * when it runs in a PID namespace below ours (a container seen from the
 * host), where hb->pid is its pid in that namespace. */
int hb_alive(const struct espx_daemon_hb *hb);

/* Read the pinned heartbeat and decide now: *hb as read (zeroed when there
 * is none), *age_ms since its last beat, *alive whether its writer lives. */
enum hb_state hb_now(struct espx_daemon_hb *hb, __u64 *age_ms, int *alive);

/* The pinned map: open it (-errno when missing), write, read. */
int hb_open(void);
int hb_write(int fd, const struct espx_daemon_hb *hb);
int hb_read(int fd, struct espx_daemon_hb *hb);

#endif
