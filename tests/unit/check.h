/* SPDX-License-Identifier: GPL-2.0 */
/* The result line of a C unit test, as tests/run.sh reads it: PASS name,
 * or FAIL name: why. A test returns `failed` from main. */
#ifndef ESPX_TEST_CHECK_H
#define ESPX_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int failed;

static void __attribute__((format(printf, 3, 4), unused))
check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed = 1;
}

#endif
