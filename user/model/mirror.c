// SPDX-License-Identifier: GPL-2.0
/* The daemon's mirroring decisions (mirror.h). */
#include <string.h>
#include <sys/socket.h>
#include "model/mirror.h"

/* Does an outbound IPv6 policy use the SA template t points at? */
static int v6_shares_sa(const struct espx_policy *v, size_t n, const struct espx_tmpl *t)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct espx_policy *q = &v[i];

		if (q->dir == ESPX_POL_OUT && q->sel.family == AF_INET6 &&
		    (q->flags & ESPX_POL_F_TMPL) && q->tmpl.reqid == t->reqid &&
		    !memcmp(q->tmpl.daddr, t->daddr, sizeof(t->daddr)))
			return 1;
	}
	return 0;
}

size_t mirror_policies(struct espx_policy *v, size_t n, unsigned char *flags)
{
	size_t i, nmixed = 0;
	int any_v6 = 0;

	for (i = 0; i < n; i++)
		any_v6 |= v[i].dir == ESPX_POL_OUT && v[i].sel.family == AF_INET6;
	for (i = 0; i < n; i++) {
		flags[i] &= (unsigned char)~MIRROR_MIXED;
		if (v[i].dir != ESPX_POL_OUT)
			continue;
		if (flags[i] & MIRROR_REFUSED)
			v[i].action = ESPX_POL_BLOCK;
		/* only action changes above: the IPv6 policies' templates are as read */
		if (any_v6 && v[i].sel.family == AF_INET && (v[i].flags & ESPX_POL_F_TMPL) &&
		    v6_shares_sa(v, n, &v[i].tmpl)) {
			v[i].action = ESPX_POL_BLOCK;
			flags[i] |= MIRROR_MIXED;
			nmixed++;
		}
	}
	return nmixed;
}
