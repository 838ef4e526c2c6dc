// SPDX-License-Identifier: GPL-2.0
/* espx_hwm_start (user/model/sa_table.h): where a reinstalled SA identity
 * starts numbering. Without a recorded mark, where asked; with one, at
 * least ESPX_HWM_MARGIN above it (packets still in flight on the deleted
 * entry), never below what was asked, saturating instead of wrapping. */
#include <stdio.h>
#include <linux/types.h>
#include "model/sa_table.h"

static int failed;

static void check(const char *name, __u64 got, __u64 want)
{
	if (got == want) {
		printf("PASS %s\n", name);
	} else {
		printf("FAIL %s: got %llu, want %llu\n", name, (unsigned long long)got,
		       (unsigned long long)want);
		failed = 1;
	}
}

int main(void)
{
	check("hwm_none_keeps_request", espx_hwm_start(7, 0, 0), 7);
	check("hwm_none_ignores_value", espx_hwm_start(7, 1000000, 0), 7);
	check("hwm_above_request", espx_hwm_start(5, 100, 1), 100 + ESPX_HWM_MARGIN);
	check("hwm_request_above", espx_hwm_start(5000, 100, 1), 5000);
	check("hwm_request_at_margin", espx_hwm_start(100 + ESPX_HWM_MARGIN, 100, 1),
	      100 + ESPX_HWM_MARGIN);
	check("hwm_zero_mark", espx_hwm_start(0, 0, 1), ESPX_HWM_MARGIN);
	check("hwm_32bit_edge", espx_hwm_start(1, 0xffffffffULL, 1),
	      0xffffffffULL + ESPX_HWM_MARGIN);
	check("hwm_saturates", espx_hwm_start(1, ~0ULL - 5, 1), ~0ULL);
	return failed;
}
