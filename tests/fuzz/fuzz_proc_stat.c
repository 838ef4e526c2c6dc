// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness: hb_stat_starttime() (user/platform/heartbeat.c), which
 * reads field 22 of a /proc/PID/stat line to tell a live daemon from a
 * reused pid. Field 2 is the command name, which any process sets to what
 * it likes (prctl PR_SET_NAME: spaces, parentheses), so the line is outside
 * bytes.
 *
 * Input: the line as fgets() returns it (up to the first NUL). Besides the
 * sanitizers (the line is an exact-size copy), an accepted line must have
 * its value where a plain count of the fields after the last ')' puts it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *f;
	unsigned long long want;
	__u64 start;
	char *line;
	int n;

	line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	if (!hb_stat_starttime(line, &start)) {
		/* ") S 1 ...": field 3 is the first after ") " */
		p = strrchr(line, ')');
		if (!p)
			abort();
		f = p + 1;
		for (n = 2; n < 22 && f; n++)
			f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
		if (!f || sscanf(f, "%llu", &want) != 1 || want != start) {
			fprintf(stderr, "fuzz_proc_stat: accepted, but field 22 is not %llu\n",
				(unsigned long long)start);
			abort();
		}
	}
	free(line);
	return 0;
}
