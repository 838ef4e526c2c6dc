/* SPDX-License-Identifier: GPL-2.0 */
/* `espx state add|del|list|flush`: SAs in the pinned espx_sa map, in
 * `ip xfrm state` syntax (xfrm_parse.h reads the words). */
#ifndef ESPX_STATE_H
#define ESPX_STATE_H

#include <stddef.h>
#include <stdio.h>

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int state_cmd(int argc, char **argv, int json);
void state_usage(FILE *f);

#endif
