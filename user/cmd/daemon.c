// SPDX-License-Identifier: GPL-2.0
/* `espx daemon`: the process that mirrors the kernel's XFRM database into
 * the datapath maps (platform/xfrm_sync.c) and reports counters, expiries
 * and ACQUIREs back (platform/xfrm_report.c). This file owns the process:
 * options, one daemon per namespace, the devices, signals, the loop.
 *  heartbeat: at start and every interval, a timestamp and its pid in the
 *             pinned espx_daemon map (heartbeat.h), cleared on a clean
 *             stop: `espx status` tells running, stale (killed or stuck:
 *             kernel changes are not mirrored meanwhile) and none apart.
 *  sweep:     every interval (at most once a second), the state of
 *             namespaces that are gone is released (nsstate.h).
 *  stop:      SIGTERM/SIGINT: detach the devices it attached, each detach
 *             handing sequence numbers back to the kernel (handover.h). */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "cmd/daemon.h"
#include "cmd/stats.h"
#include "platform/transition.h"
#include "platform/xfrm_sync.h"
#include "platform/heartbeat.h"
#include "platform/nsstate.h"
#include "common/log.h"
#include "platform/lock.h"
#include "platform/pins.h"
#include "common/util.h"
/* --- the loop ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: espx daemon [ --interval MS ] [ --rcvbuf BYTES ] [ --metrics-file PATH ]\n"
		"                   [ dev DEV ]...\n"
		"Mirror the kernel's XFRM SAs and policies (as an IKE daemon programs them)\n"
		"into espx, attach to each DEV, report counters and expiries to the kernel.\n"
		"Runs in the foreground; SIGTERM or Ctrl-C detaches and hands the SAs back to\n"
		"the kernel; SIGHUP resyncs. Needs a kernel with ESP (xfrm_user).\n"
		"  --interval MS   how often counters go to the kernel (default 1000)\n"
		"  --rcvbuf BYTES  event socket buffer (default 8 MiB); when it overflows\n"
		"                  (ENOBUFS) the daemon resyncs everything\n"
		"  --metrics-file PATH  write 'espx stats --prometheus' to PATH every\n"
		"                  interval, atomically (node_exporter's textfile collector)\n");
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	int i;
	char *end;

	d->interval_ms = 1000;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 10 || v > 3600000) {
				pr_warn("daemon: --interval '%s': milliseconds from 10 to 3600000\n", argv[i]);
				return 2;
			}
			d->interval_ms = (int)v;
		} else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 4096 || v > (1L << 30)) {
				pr_warn("daemon: --rcvbuf '%s': bytes from 4096 to 1073741824\n", argv[i]);
				return 2;
			}
			d->rcvbuf = (int)v;
		} else if (!strcmp(argv[i], "--metrics-file") && i + 1 < argc) {
			const char *m = argv[++i];
			const char *slash = strrchr(m, '/');
			char dir[4096];

			snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - m) + 1 : 1,
				 slash ? m : ".");
			if (!*m || (slash && !slash[1]) || access(dir, W_OK)) {
				pr_warn("daemon: --metrics-file '%s': need a file name in a writable directory\n", m);
				return 2;
			}
			d->metrics_file = m;
		} else if (!strcmp(argv[i], "dev") && i + 1 < argc) {
			if (d->ndev == MAX_DEVS) {
				pr_warn("daemon: at most %d devices\n", MAX_DEVS);
				return 2;
			}
			if (!if_nametoindex(argv[++i])) {
				pr_warn("daemon: no device named '%s' in this network namespace\n", argv[i]);
				return 2;
			}
			d->dev[d->ndev++] = argv[i];
		} else {
			pr_warn("daemon: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int open_maps(struct daemon *d)
{
	static const enum espx_obj need[] = {
		ESPX_MAP_SA, ESPX_MAP_SA_SETUP, ESPX_PROG_SA_CRYPTO_INIT, ESPX_PROG_SA_GHASH_INIT,
		ESPX_MAP_KERNEL_SA, ESPX_MAP_SA_HWM, ESPX_MAP_SA_SPLIT,
	};
	struct espx_dp *dp = &d->dp;
	int missing = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(need); i++)
		missing |= espx_dp_fd(dp, need[i]) < 0;
	if (missing) {
		pr_warn("daemon: the pinned datapath is incomplete; run 'espx unload' and start again\n");
		return -ENOENT;
	}
	d->fds = (struct espx_sa_fds){
		.sa_map = dp->fd[ESPX_MAP_SA],
		.setup_map = dp->fd[ESPX_MAP_SA_SETUP],
		.crypto_init_prog = dp->fd[ESPX_PROG_SA_CRYPTO_INIT],
		.ghash_init_prog = dp->fd[ESPX_PROG_SA_GHASH_INIT],
		.hwm_map = dp->fd[ESPX_MAP_SA_HWM],
	};
	return 0;
}

/* Tell `espx status` this daemon is alive (clear: it stopped cleanly). A
 * failed write is said once; the daemon's work does not depend on it. */
static void heartbeat(struct daemon *d, int clear)
{
	static int warned;
	int err;

	if (d->hb_fd < 0)
		return;
	d->hb.beat_ns = clear ? 0 : boot_ns();
	err = hb_write(d->hb_fd, &d->hb);
	if (err && !warned) {
		warned = 1;
		pr_warn("daemon: writing the heartbeat for 'espx status': %s\n", strerror(-err));
	}
}

static void heartbeat_open(struct daemon *d)
{
	d->hb_fd = hb_open();
	if (d->hb_fd < 0) {
		pr_warn("daemon: no espx_daemon map (%s): 'espx status' will not see this daemon\n",
			strerror(-d->hb_fd));
		return;
	}
	d->hb.pid = (__u32)getpid();
	d->hb.proc_start = hb_proc_start(getpid());
	d->hb.interval_ms = (__u32)d->interval_ms;
	d->hb.start_ns = boot_ns();
	heartbeat(d, 0);
}

static int dev_attached(const char *ifname)
{
	char path[512];

	espx_link_pin_path(path, sizeof(path), ifname, "tc");
	return !access(path, F_OK);
}

/* Release the state of namespaces that are gone (nsstate.h), at most once
 * a second however short the interval: it reads every namespace's anchor. */
static void sweep(void)
{
	static __u64 last_ms;
	__u64 now = xsync_mono_ms();

	if (now - last_ms < 1000)
		return;
	last_ms = now;
	nsstate_sweep();
}

/* One daemon per network namespace: a second would fight the first over
 * the maps. The lock dies with the process (kill -9 included). It lives in
 * the root-only run directory (lock.h): no other user can hold it. */
static int one_daemon(void)
{
	const char *root = strrchr(espx_pin_root(), '/');
	char name[128], comm[32];
	int fd, pid;

	snprintf(name, sizeof(name), "%s.daemon", root ? root + 1 : "espx");
	fd = espx_run_open(name, O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		pid = espx_lock_holder(fd, comm, sizeof(comm));
		if (pid)
			pr_warn("daemon: another espx daemon runs in this network namespace (pid %d, %s, holds %s/%s)\n",
				pid, comm[0] ? comm : "?", ESPX_RUN_DIR, name);
		else
			pr_warn("daemon: another espx daemon runs in this network namespace (%s/%s is locked)\n",
				ESPX_RUN_DIR, name);
		close(fd);
		return -EBUSY;
	}
	return fd;	/* kept open until exit */
}

/* Everything the daemon holds, empty: daemon_stop() may run on it at any
 * point of daemon_start(). NULL if out of memory. */
static struct daemon *daemon_new(void)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->tmp = calloc(1, sizeof(*d->tmp));
	if (!d->tmp) {
		free(d);
		return NULL;
	}
	d->hb_fd = -1;
	d->sfd = -1;
	d->tfd = -1;
	espx_dp_init(&d->dp);
	return d;
}

/* Netlink, the datapath, the first sync, the devices, signals and the
 * timer. 0, or -1 after saying what failed. */
static int daemon_start(struct daemon *d)
{
	struct itimerspec its = { 0 };
	sigset_t mask;
	int err, i;

	if (xnl_open(&d->ev, GRP(XFRMNLGRP_SA) | GRP(XFRMNLGRP_POLICY) | GRP(XFRMNLGRP_EXPIRE),
		     d->rcvbuf) ||
	    xnl_open(&d->rq, 0, 0)) {
		pr_warn("daemon: cannot open XFRM netlink (%s); the daemon needs a kernel with xfrm_user (modprobe xfrm_user); without kernel ESP use 'espx state add' instead\n",
			strerror(errno));
		return -1;
	}
	if (espx_load() || open_maps(d))
		return -1;
	heartbeat_open(d);	/* before the first sync, which may take a while */
	d->rb = ring_buffer__new(espx_obj_open(ESPX_MAP_EVENTS), xreport_on_event, d, NULL);
	if (!d->rb) {
		pr_warn("daemon: opening the event ring buffer: %s\n", strerror(errno));
		return -1;
	}
	/* subscribed before the dump: nothing that changes meanwhile is lost */
	err = xsync_resync(d);
	if (err && err != -ENOSPC)
		return -1;
	/* the devices are the daemon's: attached now (or still, after a
	 * crash) and detached when it stops */
	for (i = 0; i < d->ndev; i++) {
		if (!dev_attached(d->dev[i]) && espx_attach(d->dev[i], ESPX_XDP_AUTO, 0))
			return -1;
		d->attached[i] = 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	its.it_interval.tv_sec = d->interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(d->interval_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (d->sfd < 0 || d->tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL)) {
		pr_warn("daemon: signalfd/timerfd: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The Prometheus textfile, if asked for; says a failure once per streak. */
static void metrics(struct daemon *d)
{
	static int failing;
	int err;

	if (!d->metrics_file)
		return;
	err = stats_metrics_file(d->metrics_file);
	if (err && !failing)
		pr_warn("daemon: writing metrics to %s: %s (retried every interval)\n",
			d->metrics_file, strerror(-err));
	failing = !!err;
}

/* Until SIGTERM or SIGINT: kernel events, datapath events, the timer's
 * tick, SIGHUP's resync. */
static void daemon_loop(struct daemon *d)
{
	struct pollfd pfd[4];
	int err, stop = 0;

	xreport_tick(d, 0);
	metrics(d);
	d->running = 1;
	xsync_rx_mark_check(d, 1);	/* attached now: the attach's own choice, checked */
	fprintf(stderr, "espx daemon: ready: %zu SAs carried, %zu policies, interval %d ms\n",
		d->nsa, d->npol, d->interval_ms);
	pfd[0] = (struct pollfd){ .fd = nl_fd(&d->ev), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = ring_buffer__epoll_fd(d->rb), .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = d->tfd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
	while (!stop) {
		int timeout = -1;

		pfd[0].fd = nl_fd(&d->ev);
		if (d->lock_retry) {
			__u64 now = xsync_mono_ms();

			if (now < d->lock_retry) {
				/* events wait in the socket (ENOBUFS: resync later) */
				pfd[0].fd = -1;
				timeout = (int)(d->lock_retry - now);
			} else {
				d->lock_retry = 0;
			}
		}
		if (poll(pfd, 4, timeout) < 0) {
			if (errno != EINTR)
				break;
			continue;
		}
		if (pfd[0].revents) {
			int lock = xsync_lock(d);

			err = lock < 0 ? -EBUSY : nl_drain(&d->ev, xsync_on_msg, d);
			espx_unlock(lock);
			if (err == -ENOBUFS) {
				pr_warn("daemon: XFRM events were lost (ENOBUFS): full resync\n");
				d->resync = 1;
			}
		}
		if (pfd[1].revents)
			ring_buffer__consume(d->rb);
		if (pfd[2].revents) {
			__u64 n;

			if (read(d->tfd, &n, sizeof(n)) < 0)
				n = 0;
			heartbeat(d, 0);
			xreport_tick(d, 0);
			if (xsync_mono_ms() - d->rx_mark_check_ms >= 10000)
				xsync_rx_mark_check(d, 1);
			metrics(d);
			sweep();
		}
		if (pfd[3].revents) {
			struct signalfd_siginfo si;

			if (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					d->resync = 1;
				else
					stop = 1;
			}
		}
		if (d->resync && !d->lock_retry)
			xsync_resync(d);
		if (d->publish && !d->lock_retry)
			xsync_publish(d);
	}
	xreport_tick(d, 1);
}

/* The one way out, from any point of daemon_start() or after the loop:
 * devices handed back, the heartbeat cleared, everything freed. */
static void daemon_stop(struct daemon *d)
{
	int i;

	if (d->gone.n) {	/* deleted by the kernel, the publish held back */
		int lock = espx_lock();

		xsync_flush_gone(d);
		espx_unlock(lock);
	}
	for (i = 0; i < d->ndev; i++)
		if (d->attached[i])
			espx_detach(d->dev[i]);	/* hands the SAs back first */
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->tfd >= 0)
		close(d->tfd);
	/* stopped, not killed: no daemon, and the devices were handed back */
	heartbeat(d, 1);
	metrics(d);	/* the last word: espx_daemon_running 0 */
	if (d->hb_fd >= 0)
		close(d->hb_fd);
	ring_buffer__free(d->rb);
	espx_dp_close(&d->dp);
	nl_close(&d->ev);
	nl_close(&d->rq);
	free(d->sa);
	free(d->pol);
	free(d->seen.k);
	free(d->gone.k);
	xnl_sa_wipe(d->tmp);
	free(d->tmp);
	free(d);
}

int daemon_cmd(int argc, char **argv)
{
	struct daemon *d = daemon_new();
	int rc;

	if (!d)
		return 1;
	rc = parse_args(d, argc, argv);	/* 2: usage error */
	if (!rc) {
		rc = 1;
		if (one_daemon() >= 0 && !daemon_start(d)) {
			daemon_loop(d);
			rc = 0;
		}
	}
	daemon_stop(d);
	return rc;
}

