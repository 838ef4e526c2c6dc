/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's state, shared by the three files that run it: the mirror of
 * the kernel's XFRM database in the datapath maps (xfrm_sync.c), what it
 * reports back to the kernel as a packet-offload driver does (counters,
 * expiries, ACQUIREs: xfrm_report.c), and the command that owns the process,
 * its options, signals and loop (cmd/daemon.c). */
#ifndef ESPX_XFRM_SYNC_H
#define ESPX_XFRM_SYNC_H

#include <stddef.h>
#include <linux/netlink.h>
#include <bpf/libbpf.h>
#include "espx_daemon.h"
#include "espx_sa.h"
#include "platform/datapath.h"
#include "platform/nl.h"
#include "platform/sa_install.h"
#include "platform/xfrm_nl.h"


#define MAX_DEVS	16
#define REPLACE_GAP	65536	/* numbers skipped when an SA is replaced in place */
#define GRP(g)		(1U << ((g) - 1))
/* The command lock (lock.h) is taken for each step of work. Once running,
 * the daemon waits for it this long, then leaves that step (and the event
 * socket unread) for LOCK_BACKOFF_MS: never blocked for long, never spinning
 * on a lock someone else holds. Counters and expiries go on meanwhile. */
#define LOCK_WAIT_MS	2000
#define LOCK_BACKOFF_MS	1000

/* One SA espx carries for the kernel. */
struct msa {
	struct espx_sa_key key;
	__s64 base_bytes, base_packets;	/* the kernel's own share of curlft */
	__u64 add_time, use_time;	/* the kernel's, seconds since the epoch */
	__u64 pushed_bytes, pushed_packets;
	__u64 pushed_oseq, pushed_seq;	/* sequence state last given to the kernel */
	__u64 k_oseq;			/* the kernel's oseq as espx last left it */
	int k_seen;			/* k_oseq holds a look at the kernel's */
	__u64 hwm_noted;		/* oseq last written to espx_sa_hwm */
	int kernel_sends;		/* the kernel numbers on it itself: leave its oseq */
	int soft_done, hard_done;
	__u64 split_k, split_at;	/* the kernel's oseq at the last split look, and the jump then */
	int split_seen, split_ended;
};

/* A kernel policy as the daemon mirrors it. */
struct mpol {
	struct xnl_pol k;
	int warned;			/* mixed-family warning logged */
};

struct daemon {
	struct nl ev, rq;
	struct espx_dp dp;		/* the pinned objects, open while it runs */
	struct espx_sa_fds fds;		/* the installer's view of dp */
	int hb_fd;			/* espx_daemon: the heartbeat; -1 none */
	struct espx_daemon_hb hb;
	struct ring_buffer *rb;
	struct msa *sa;
	size_t nsa, cap;
	struct mpol *pol;		/* the kernel's policies, in age order (the
					 * kernel's: oldest first, xnl_pol_age_cmp) */
	size_t npol, polcap;
	int interval_ms;
	int rcvbuf;			/* event socket buffer, bytes (0: default) */
	const char *metrics_file;	/* Prometheus textfile, written each tick; NULL none */
	const char *dev[MAX_DEVS];
	int ndev, attached[MAX_DEVS];
	int active;			/* espx links exist: espx carries traffic */
	int nattached;			/* espx's attached devices at the last tick */
	int split;			/* a device was detached while espx kept
					 * sending elsewhere: the kernel numbers below
					 * espx's jump, its oseq is left alone */
	int resync, publish;
	int nmixed;			/* IPv4 policies blocked at the last publish
					 * because the kernel sends IPv6 on their SA */
	int running;			/* past start-up: lock waits are short */
	int lock_failing;		/* the last try for the lock failed */
	__u64 lock_retry;		/* CLOCK_MONOTONIC ms of the next try; 0: now */
	struct xnl_sa *tmp;		/* one decoded SA (large: no stack) */
	int sfd, tfd;			/* signalfd, timerfd; -1 none */
	struct ksa_seen {
		struct espx_sa_key *k;
		size_t n, cap;
	} seen,				/* keys the last dump had */
	  gone;				/* carried SAs the kernel deleted, whose
					 * entries stay until the next publish has
					 * moved the policies off them */
	__u64 rx_mark_check_ms;		/* CLOCK_MONOTONIC ms of the last check */
	int rx_mark_on;			/* espx's kernel policy wanted, and put */
	int rx_mark_failed;		/* changing it failed (said once) */
};

/* --- xfrm_sync.c: the kernel's database -> the maps ------------------- */

__u64 xsync_mono_ms(void);
/* The command lock for one step of work, or -1 and a retry time set. */
int xsync_lock(struct daemon *d);
struct msa *xsync_msa_find(struct daemon *d, const struct espx_sa_key *key);
struct mpol *xsync_pol_find(struct daemon *d, __u32 index);
/* "DST spi 0xSPI": an SA's identity (never key material) for messages. */
const char *xsync_sa_name(const struct espx_sa_key *id, char *buf, size_t n);
/* One XFRM event (mnl callback; data: the daemon). */
int xsync_on_msg(const struct nlmsghdr *nlh, void *data);
/* Make the maps equal to the kernel's database, keeping what is unchanged. */
int xsync_resync(struct daemon *d);
/* Write the policy table from the mirrored kernel policies, then remove
 * the entries of the SAs the kernel deleted (d->gone). */
int xsync_publish(struct daemon *d);
/* espx's kernel policy for the IPv6 it decrypts (ESPX_RX_MARK): there
 * while espx is attached here and a kernel policy would check that IPv6
 * (xnl_pol_needs_rx_mark), else gone. After each publish when the need
 * changed; ask: also ask the kernel whether it is still there (`ip xfrm
 * policy flush`, a delete), every 10 s and at the tick after a flush. */
void xsync_rx_mark_check(struct daemon *d, int ask);
/* Remove d->gone's entries now (under the lock), whatever the policies. */
void xsync_flush_gone(struct daemon *d);

/* --- xfrm_report.c: the datapath's state -> the kernel --------------- */

/* Every interval (force: at the stop, whatever changed): counters, sequence
 * state, expiries and split watch for every carried SA. */
void xreport_tick(struct daemon *d, int force);
/* One datapath event (ring buffer callback; ctx: the daemon). */
int xreport_on_event(void *ctx, void *data, size_t len);

#endif
