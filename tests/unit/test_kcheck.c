// SPDX-License-Identifier: GPL-2.0
/* kcheck on the machine the tests run on: the item list is well formed, and
 * this kernel (6.18, BPF crypto built in) has every required feature.
 * Without root the probes cannot run and read as unknown; then only
 * "nothing required is missing" is asserted. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "platform/kcheck.h"

static int fail(const char *why, const struct kcheck_item *it)
{
	printf("FAIL test_kcheck: %s%s%s%s%s\n", why,
	       it ? ": " : "", it ? it->name : "",
	       it && it->detail[0] ? " - " : "", it ? it->detail : "");
	return 1;
}

int main(void)
{
	struct kcheck_item items[KCHECK_MAX_ITEMS];
	int i, n, ret, root = geteuid() == 0;

	/* For a human reading the log; the runner ignores these lines. */
	ret = kcheck_report(stdout, 0, 1);
	if (ret != 0 && ret != -ENOTSUP)
		return fail("kcheck_report returned neither 0 nor -ENOTSUP", NULL);

	n = kcheck_run(items, KCHECK_MAX_ITEMS);
	if (n < 8)
		return fail("fewer than 8 items", NULL);
	if (kcheck_run(items, 3) != 3)
		return fail("kcheck_run ignores max", NULL);
	n = kcheck_run(items, KCHECK_MAX_ITEMS);

	for (i = 0; i < n; i++) {
		const struct kcheck_item *it = &items[i];

		if (!it->name || !it->name[0])
			return fail("item without a name", it);
		if (!it->since || !it->since[0])
			return fail("item without a version", it);
		if (!it->why || !it->why[0])
			return fail("item without a reason", it);
		if (it->ok != KCHECK_OK && it->ok != KCHECK_MISSING &&
		    it->ok != KCHECK_UNKNOWN)
			return fail("item with a bad ok value", it);
		if (!it->required)
			continue;
		if (it->ok == KCHECK_MISSING)
			return fail("required feature missing", it);
		if (root && it->ok != KCHECK_OK)
			return fail("required feature not confirmed as root", it);
	}
	if ((kcheck_failed(items, n) == 0) != (ret == 0))
		return fail("kcheck_report disagrees with kcheck_run", NULL);
	printf("PASS test_kcheck\n");
	return 0;
}
