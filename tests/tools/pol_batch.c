// SPDX-License-Identifier: GPL-2.0
/* Installs many policies with one table commit, for benchmarks that need
 * hundreds of them: `espx policy add` loads (and so verifies) the whole
 * datapath on every call, seconds each on a small machine.
 *
 * Reads one policy per line on stdin, in the words of `espx policy add`
 * (whitespace-separated, no quoting), e.g.
 *   src 172.17.0.0/24 dst 172.16.0.0/24 dir in tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel
 * Two words that `ip xfrm` has not, for what a netlink client can send:
 * "sport-mask M" and "dport-mask M" (M a 16-bit number) set a port's mask,
 * so that a selector can name a range of ports.
 *
 * It replaces the pinned policy table of the current network namespace
 * with them (policy_publish(): templates resolved against the SAs present,
 * as the daemon does). Lines keep their order within a direction: each gets
 * an index above the previous one, as successive `policy add`s would, so
 * equal priorities are tried in line order. The datapath must be loaded
 * (`espx attach` first). Prints "ok N" and exits 0, or says why and exits 1.
 *
 * Built from tests/tools/ by `make`; tests/bench/policy_bench.py also
 * compiles it against an older tree's objects to compare versions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform/pol_store.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "model/xfrm_parse.h"

#define MAX_WORDS 64

int main(void)
{
	struct espx_policy *v = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char line[1024];
	int lock, err;

	while (fgets(line, sizeof(line), stdin)) {
		char *argv[MAX_WORDS], *save = NULL, *w;
		struct xp_policy p;
		struct xp_err perr;
		long smask = -1, dmask = -1, *mask;
		int argc = 0;

		lineno++;
		for (w = strtok_r(line, " \t\r\n", &save); w && argc < MAX_WORDS;
		     w = strtok_r(NULL, " \t\r\n", &save)) {
			mask = !strcmp(w, "sport-mask") ? &smask : !strcmp(w, "dport-mask") ? &dmask : NULL;
			if (!mask) {
				argv[argc++] = w;
				continue;
			}
			w = strtok_r(NULL, " \t\r\n", &save);
			*mask = w ? strtol(w, NULL, 0) : -1;
			if (*mask < 0 || *mask > 0xffff) {
				fprintf(stderr, "pol_batch: line %zu: a port mask needs a number 0-0xffff\n",
					lineno);
				return 1;
			}
		}
		if (!argc || argv[0][0] == '#')
			continue;
		memset(&p, 0, sizeof(p));
		if (xp_parse_policy_add(argc, argv, &p, &perr)) {
			fprintf(stderr, "pol_batch: line %zu: %s\n", lineno, perr.msg);
			return 1;
		}
		if (smask >= 0)
			p.pol.sel.sport_mask = htons((__u16)smask);
		if (dmask >= 0)
			p.pol.sel.dport_mask = htons((__u16)dmask);
		if (n == cap) {
			struct espx_policy *nv;

			cap = cap ? 2 * cap : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				fprintf(stderr, "pol_batch: out of memory\n");
				return 1;
			}
			v = nv;
		}
		/* XFRM's index scheme (8 * n + dir), n rising with the line */
		if (!p.has_index)
			p.pol.index = (__u32)(n + 1) * 8 + p.pol.dir;
		v[n++] = p.pol;
	}
	lock = espx_lock();
	if (lock < 0)
		return 1;
	err = policy_publish(v, n);
	espx_unlock(lock);
	free(v);
	if (err) {
		fprintf(stderr, "pol_batch: publishing %zu policies: %s\n", n, strerror(-err));
		return 1;
	}
	printf("ok %zu\n", n);
	return 0;
}
