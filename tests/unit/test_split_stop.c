// SPDX-License-Identifier: GPL-2.0
/* handover_split_exhausted (user/platform/handover.h): when the daemon ends a split
 * SA without ESN because the kernel's share of its numbers (below espx's
 * jump) is nearly used: at or past the jump, within SPLIT_STOP_MARGIN of
 * it, or within four intervals at the rate just seen; never while much is
 * left at a low rate. */
#include <linux/types.h>
#include "check.h"
#include "platform/handover.h"

int main(void)
{
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
