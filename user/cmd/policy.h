/* SPDX-License-Identifier: GPL-2.0 */
/* `espx policy add|del|list|flush`: security policies in the pinned
 * espx_policy map, in `ip xfrm policy` syntax, and the resolution of each
 * policy's template to the SA the datapath uses. */
#ifndef ESPX_POLICY_CMD_H
#define ESPX_POLICY_CMD_H

#include <stdio.h>

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int policy_cmd(int argc, char **argv, int json);
void policy_usage(FILE *f);

/* Resolve every policy's template to the newest usable SA again and
 * publish the table (a new half with its espx_pol_lpm and espx_pol_bin
 * bins, then espx_config in one write) and the IKE pairs of espx_ike. Run
 * after every SA change, so a deleted SA is never used again (fail closed)
 * and a new one's IKE passes. The caller holds espx_lock(). 0, or -errno after
 * printing why. */
int policy_sync(void);

/* Replace the whole table with pols (any order: it is sorted as XFRM
 * orders policies), resolve templates and publish. The netlink daemon's
 * way in. Caller holds espx_lock(). 0, -ENOSPC if a direction had more
 * than ESPX_MAX_POLICY (the first ESPX_MAX_POLICY - 1 are kept and a
 * block-everything policy ends the direction: fail closed), or -errno. */
#include <stddef.h>
#include "espx_policy.h"
int policy_publish(const struct espx_policy *pols, size_t n);

#endif
