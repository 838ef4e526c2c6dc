/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's mirroring decisions, with no map or netlink calls
 * (unit-tested without root, tests/unit/test_mirror.c): which of the
 * kernel's policies espx publishes as they are and which it turns into
 * blocks. The daemon (cmd/daemon.c) reads the kernel and writes the maps. */
#ifndef ESPX_MIRROR_H
#define ESPX_MIRROR_H

#include <stddef.h>
#include "espx_policy.h"

#define MIRROR_REFUSED	(1U << 0)	/* in: the codec gave a reason espx cannot carry it */
#define MIRROR_MIXED	(1U << 1)	/* out: blocked, its SA also carries IPv6 */

/* v: the kernel's policies, in order, turned in place into what espx
 * publishes. Outbound ones espx cannot carry as the kernel would block
 * (fail closed: disable_xfrm keeps the kernel out): those flagged
 * MIRROR_REFUSED, and IPv4 ones whose SA (template reqid and destination)
 * an outbound IPv6 policy also uses. The kernel encrypts outbound IPv6
 * itself (there is no IPv6 disable_xfrm), so espx sending IPv4 on that SA
 * would be a second sender with its own sequence numbers: a nonce reused
 * under one key. Those get MIRROR_MIXED; their number is returned. */
size_t mirror_policies(struct espx_policy *v, size_t n, unsigned char *flags);

#endif
