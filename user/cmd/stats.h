/* SPDX-License-Identifier: GPL-2.0 */
/* `espx stats`: per-SA counters and the datapath's drop and pass-through
 * counters by reason and direction. */
#ifndef ESPX_STATS_H
#define ESPX_STATS_H

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int stats_cmd(int argc, char **argv, int json);

#endif
