/* SPDX-License-Identifier: GPL-2.0 */
/* `espx policy add|del|list|flush`: security policies in `ip xfrm policy`
 * syntax; the table's rules are model/pol_table.h's, the maps
 * platform/pol_store.h's. */
#ifndef ESPX_POLICY_CMD_H
#define ESPX_POLICY_CMD_H

#include <stdio.h>

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int policy_cmd(int argc, char **argv, int json);
void policy_usage(FILE *f);

#endif
