// SPDX-License-Identifier: GPL-2.0
/* The daemon's heartbeat in the espx_daemon map, and what it says (heartbeat.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "platform/heartbeat.h"
#include "platform/datapath.h"

__u64 hb_stale_after_ms(__u32 interval_ms)
{
	return (__u64)HB_MISSED_BEATS * interval_ms + HB_SLACK_MS;
}

enum hb_state hb_decide(const struct espx_daemon_hb *hb, __u64 now_ns, int alive,
			__u64 *age_ms)
{
	__u64 age;

	*age_ms = 0;
	if (!hb || !hb->beat_ns)
		return HB_NONE;
	age = now_ns > hb->beat_ns ? (now_ns - hb->beat_ns) / 1000000ULL : 0;
	*age_ms = age;
	if (!alive)
		return HB_STALE;	/* killed: no need to wait for missed beats */
	return age > hb_stale_after_ms(hb->interval_ms) ? HB_STALE : HB_RUNNING;
}

const char *hb_state_name(enum hb_state s)
{
	switch (s) {
	case HB_RUNNING: return "running";
	case HB_STALE: return "stale";
	default: return "none";
	}
}

void hb_describe(char *buf, size_t n, enum hb_state s, const struct espx_daemon_hb *hb,
		 __u64 age_ms, int alive)
{
	switch (s) {
	case HB_RUNNING:
		snprintf(buf, n, "daemon: running, pid %u, last heartbeat %llu.%llu s ago, interval %u ms",
			 hb->pid, (unsigned long long)(age_ms / 1000),
			 (unsigned long long)(age_ms % 1000 / 100), hb->interval_ms);
		break;
	case HB_STALE:
		if (alive)
			snprintf(buf, n, "daemon: stale: pid %u is alive but has not reported for %llu.%llu s (interval %u ms): busy or stuck (stopped?); kernel XFRM changes since then are not mirrored yet",
				 hb->pid, (unsigned long long)(age_ms / 1000),
				 (unsigned long long)(age_ms % 1000 / 100), hb->interval_ms);
		else
			snprintf(buf, n, "daemon: stale: no daemon has run for %llu.%llu s (pid %u is gone); kernel XFRM changes since then are not mirrored; restart it (systemd: Restart=always)",
				 (unsigned long long)(age_ms / 1000),
				 (unsigned long long)(age_ms % 1000 / 100), hb->pid);
		break;
	default:
		snprintf(buf, n, "daemon: none");
	}
}

int hb_stat_starttime(const char *line, __u64 *start)
{
	const char *p = strrchr(line, ')');
	unsigned long long v;
	char *end;
	int field;

	if (!p || p[1] != ' ')	/* p + 1 is read from below: not past the end */
		return -EINVAL;
	p++;
	/* after ") " comes field 3 (state); starttime is field 22 */
	for (field = 2; field < 21; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1 || (*end && *end != ' ' && *end != '\n'))
		return -EINVAL;
	*start = v;
	return 0;
}

__u64 hb_proc_start(pid_t pid)
{
	char path[64], line[1024];
	__u64 start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f) && hb_stat_starttime(line, &start))
		start = 0;
	fclose(f);
	return start;
}

/* The innermost of a /proc/PID/status "NSpid:" line's pids (the pid in the
 * process's own PID namespace), if it has more than one (the process is in
 * a namespace below ours); 0 otherwise. */
static __u32 nspid_inner(pid_t pid)
{
	char path[64], line[256];
	__u32 inner = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;
		int n = 0;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			inner = (__u32)v;
			n++;
			p = end;
		}
		if (n < 2)
			inner = 0;
		break;
	}
	fclose(f);
	return inner;
}

/* A daemon in a PID namespace below ours (a container's): the heartbeat
 * holds its pid there. Found by that pid as the last of NSpid and by its
 * start time, which every namespace sees alike. Scans /proc: only when the
 * pid as ours did not match. */
static int hb_alive_below(const struct espx_daemon_hb *hb)
{
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (!hb->proc_start || !(d = opendir("/proc")))
		return 0;
	while (!found && (de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		found = nspid_inner(pid) == hb->pid && hb_proc_start(pid) == hb->proc_start;
	}
	closedir(d);
	return found;
}

int hb_alive(const struct espx_daemon_hb *hb)
{
	__u64 start;

	if (!hb->pid)
		return 0;
	if (!kill((pid_t)hb->pid, 0) || errno == EPERM) {
		/* the pid is taken: by the daemon, or by a process that got it later */
		start = hb_proc_start((pid_t)hb->pid);
		if (!hb->proc_start || !start || start == hb->proc_start)
			return 1;
	}
	return hb_alive_below(hb);
}

int hb_open(void)
{
	char path[300];
	int fd;

	espx_obj_path(path, sizeof(path), ESPX_MAP_DAEMON);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int hb_write(int fd, const struct espx_daemon_hb *hb)
{
	__u32 k = 0;

	return bpf_map_update_elem(fd, &k, hb, BPF_ANY) ? -errno : 0;
}

int hb_read(int fd, struct espx_daemon_hb *hb)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(fd, &k, hb) ? -errno : 0;
}

/* The daemon's heartbeat, decided (heartbeat.h); HB_NONE when unreadable. */
enum hb_state hb_now(struct espx_daemon_hb *hb, __u64 *age_ms, int *alive)
{
	struct timespec ts;
	int fd = hb_open();

	memset(hb, 0, sizeof(*hb));
	*alive = 0;
	if (fd >= 0) {
		if (hb_read(fd, hb))
			memset(hb, 0, sizeof(*hb));
		close(fd);
	}
	if (hb->beat_ns)
		*alive = hb_alive(hb);
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return hb_decide(hb, (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec, *alive, age_ms);
}
