// SPDX-License-Identifier: GPL-2.0
/* user/platform/heartbeat.h without root: the decision `espx status` makes from the
 * daemon's heartbeat (none / running / stale), the threshold, the line it
 * prints, and the /proc/PID/stat parsing that tells a reused pid from the
 * daemon's. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include "platform/heartbeat.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok)
		printf("PASS %s\n", name);
	else
		printf("FAIL %s: %s\n", name, why);
	failed |= !ok;
}

#define MS 1000000ULL

int main(void)
{
	struct espx_daemon_hb hb = { .beat_ns = 1000 * MS, .pid = 42, .interval_ms = 100 };
	char line[512];
	__u64 age, start;

	check(hb_stale_after_ms(100) == 2300 && hb_stale_after_ms(1000) == 5000,
	      "threshold_3_intervals_plus_lock_wait", "hb_stale_after_ms");

	check(hb_decide(NULL, 5000 * MS, 1, &age) == HB_NONE && age == 0, "null_is_none", "");
	hb.beat_ns = 0;
	check(hb_decide(&hb, 5000 * MS, 1, &age) == HB_NONE, "cleared_is_none",
	      "beat_ns 0 (clean stop) must read as no daemon");
	hb.beat_ns = 1000 * MS;

	check(hb_decide(&hb, 1050 * MS, 1, &age) == HB_RUNNING && age == 50, "fresh_alive_running", "");
	check(hb_decide(&hb, 3300 * MS, 1, &age) == HB_RUNNING && age == 2300,
	      "at_threshold_still_running", "");
	check(hb_decide(&hb, 3301 * MS, 1, &age) == HB_STALE && age == 2301,
	      "past_threshold_alive_stale", "a silent live daemon (stopped, stuck) is stale");
	check(hb_decide(&hb, 1010 * MS, 0, &age) == HB_STALE && age == 10,
	      "dead_pid_stale_at_once", "a killed daemon must be stale without waiting for beats");
	check(hb_decide(&hb, 900 * MS, 1, &age) == HB_RUNNING && age == 0,
	      "clock_behind_no_underflow", "");

	check(!strcmp(hb_state_name(HB_NONE), "none") && !strcmp(hb_state_name(HB_RUNNING), "running") &&
	      !strcmp(hb_state_name(HB_STALE), "stale"), "state_names", "");

	hb_describe(line, sizeof(line), HB_RUNNING, &hb, 150, 1);
	check(!strcmp(line, "daemon: running, pid 42, last heartbeat 0.1 s ago, interval 100 ms"),
	      "describe_running", line);
	hb_describe(line, sizeof(line), HB_STALE, &hb, 12345, 0);
	check(strstr(line, "daemon: stale: no daemon has run for 12.3 s (pid 42 is gone)") == line &&
	      strstr(line, "not mirrored") && strstr(line, "Restart=always"), "describe_stale_dead", line);
	hb_describe(line, sizeof(line), HB_STALE, &hb, 4000, 1);
	check(strstr(line, "daemon: stale: pid 42 is alive but has not reported for 4.0 s") == line,
	      "describe_stale_alive", line);
	hb_describe(line, sizeof(line), HB_NONE, &hb, 0, 0);
	check(!strcmp(line, "daemon: none"), "describe_none", line);

	check(!hb_stat_starttime("1234 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21\n",
				 &start) && start == 987654, "stat_comm_with_spaces_and_parens", "");
	check(hb_stat_starttime("1234 (x) S 1 2 3\n", &start) != 0, "stat_short_refused", "");
	check(hb_stat_starttime("garbage", &start) != 0, "stat_no_paren_refused", "");
	start = hb_proc_start(getpid());
	check(start > 0, "proc_start_self", "could not read /proc/self start time");
	hb.pid = (__u32)getpid();
	hb.proc_start = start;
	check(hb_alive(&hb), "alive_self", "");
	hb.proc_start = start + 1;
	check(!hb_alive(&hb), "reused_pid_not_alive", "same pid, other start time: not the daemon");
	return failed;
}
