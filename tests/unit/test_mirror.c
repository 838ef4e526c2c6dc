// SPDX-License-Identifier: GPL-2.0
/* The daemon's mirroring decisions (user/model/mirror.h), no root needed:
 * which of the kernel's policies espx publishes as they are and which it
 * blocks (fail closed): outbound ones it cannot carry, and IPv4 ones on an
 * SA the kernel also sends IPv6 on. */
#include <arpa/inet.h>
#include <string.h>
#include "check.h"
#include "model/mirror.h"

static struct espx_policy pol(__u8 dir, __u8 family, __u32 reqid, const char *tmpl_dst)
{
	struct espx_policy p;

	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.sel.family = family;
	p.action = ESPX_POL_ALLOW;
	if (tmpl_dst) {
		p.flags = ESPX_POL_F_TMPL;
		p.tmpl.family = AF_INET;
		p.tmpl.reqid = reqid;
		inet_pton(AF_INET, tmpl_dst, p.tmpl.daddr);
	}
	return p;
}

int main(void)
{
	struct espx_policy v[6];
	unsigned char f[6] = { 0 };
	size_t n;

	/* no IPv6 anywhere: all as they are, the refused outbound one blocks */
	v[0] = pol(ESPX_POL_OUT, AF_INET, 5, "10.0.0.2");
	v[1] = pol(ESPX_POL_OUT, AF_INET, 6, "10.0.0.2");
	v[2] = pol(ESPX_POL_IN, AF_INET, 6, "10.0.0.1");
	f[1] = MIRROR_REFUSED;
	f[2] = MIRROR_REFUSED;
	n = mirror_policies(v, 3, f);
	check(n == 0 && v[0].action == ESPX_POL_ALLOW && !(f[0] & MIRROR_MIXED),
	      "mirror_plain_kept", "nmixed %zu, action %u", n, v[0].action);
	check(v[1].action == ESPX_POL_BLOCK, "mirror_refused_out_blocks", "action %u",
	      v[1].action);
	check(v[2].action == ESPX_POL_ALLOW, "mirror_refused_in_kept",
	      "an inbound policy was blocked (action %u)", v[2].action);

	/* an outbound IPv6 policy on reqid 5 to 10.0.0.2 */
	memset(f, 0, sizeof(f));
	v[0] = pol(ESPX_POL_OUT, AF_INET, 5, "10.0.0.2");	/* same SA: blocked */
	v[1] = pol(ESPX_POL_OUT, AF_INET, 5, "10.0.0.3");	/* other destination */
	v[2] = pol(ESPX_POL_OUT, AF_INET, 7, "10.0.0.2");	/* other reqid */
	v[3] = pol(ESPX_POL_IN, AF_INET, 5, "10.0.0.2");	/* inbound */
	v[4] = pol(ESPX_POL_OUT, AF_INET6, 5, "10.0.0.2");
	v[5] = pol(ESPX_POL_OUT, AF_INET, 0, NULL);		/* no template */
	n = mirror_policies(v, 6, f);
	check(n == 1 && v[0].action == ESPX_POL_BLOCK && (f[0] & MIRROR_MIXED),
	      "mirror_mixed_family_blocks", "nmixed %zu, action %u, flags %u", n, v[0].action,
	      f[0]);
	check(v[1].action == ESPX_POL_ALLOW && v[2].action == ESPX_POL_ALLOW &&
	      v[3].action == ESPX_POL_ALLOW && v[4].action == ESPX_POL_ALLOW &&
	      v[5].action == ESPX_POL_ALLOW && !(f[1] | f[2] | f[3] | f[4] | f[5]),
	      "mirror_mixed_only_that_sa", "another policy was blocked or flagged");

	/* the IPv6 policy gone: the mark clears on the next decision */
	v[4] = pol(ESPX_POL_IN, AF_INET6, 5, "10.0.0.2");
	v[0] = pol(ESPX_POL_OUT, AF_INET, 5, "10.0.0.2");
	n = mirror_policies(v, 6, f);
	check(n == 0 && v[0].action == ESPX_POL_ALLOW && !(f[0] & MIRROR_MIXED),
	      "mirror_mixed_clears", "nmixed %zu, action %u, flags %u", n, v[0].action, f[0]);
	return failed;
}
