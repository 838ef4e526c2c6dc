// SPDX-License-Identifier: GPL-2.0
/* handover_split_exhausted (user/model/sa_table.h): when the daemon ends a split
 * SA without ESN because the kernel's share of its numbers (below espx's
 * jump) is nearly used: at or past the jump, within SPLIT_STOP_MARGIN of
 * it, or within four intervals at the rate just seen; never while much is
 * left at a low rate. And the jump itself (sa_split_gap). */
#include <linux/types.h>
#include "check.h"
#include "model/sa_table.h"

static void test_gap(void)
{
	struct espx_sa sa = { 0 };

	sa.flags = ESPX_SA_F_ESN;
	sa.oseq = 5;
	check(sa_split_gap(&sa) == 1ULL << 40, "split_gap_esn", "gap %llu",
	      (unsigned long long)sa_split_gap(&sa));
	sa.flags = 0;
	sa.oseq = 0;
	check(sa_split_gap(&sa) == 1ULL << 28, "split_gap_capped", "gap %llu",
	      (unsigned long long)sa_split_gap(&sa));
	sa.oseq = 0xffffffffULL - 1000;
	check(sa_split_gap(&sa) == 500, "split_gap_half_of_rest", "gap %llu",
	      (unsigned long long)sa_split_gap(&sa));
	sa.oseq = 0xffffffffULL + 7;
	check(sa_split_gap(&sa) == 0, "split_gap_none_left", "gap %llu",
	      (unsigned long long)sa_split_gap(&sa));
}

int main(void)
{
	test_gap();
	const __u64 at = 3000000000ULL;	/* a jump below 2^32 */

	check(!handover_split_exhausted(at, 1000, 0), "split_far_from_jump_runs", "stopped");
	check(!handover_split_exhausted(at, at - SPLIT_STOP_MARGIN - 1, 0),
	      "split_just_outside_margin_runs", "stopped");
	check(handover_split_exhausted(at, at - SPLIT_STOP_MARGIN, 0),
	      "split_at_margin_stops", "ran on");
	check(handover_split_exhausted(at, at, 0), "split_at_jump_stops", "ran on");
	check(handover_split_exhausted(at, at + 5, 0), "split_past_jump_stops", "ran on");
	/* 100000 left at 20000 per interval: 4 intervals + margin > 100000? no */
	check(!handover_split_exhausted(at, at - 100000, 20000), "split_rate_leaves_room",
	      "stopped with five intervals' worth left");
	check(handover_split_exhausted(at, at - 80000, 20000), "split_rate_stops_early",
	      "ran on with four intervals' worth left");
	/* a step larger than any non-ESN SA could take does not wrap the sum */
	check(handover_split_exhausted(at, 5, ~0ULL), "split_huge_step_no_wrap", "ran on");
	check(!handover_split_exhausted(~0ULL, 0, 0x3fffffffULL), "split_max_step_fits",
	      "stopped");
	return failed;
}
