/* SPDX-License-Identifier: GPL-2.0 */
/* `espx monitor`: lifetime events (soft and hard limits) from the
 * espx_events ring buffer, one line or JSON object per event. */
#ifndef ESPX_MONITOR_H
#define ESPX_MONITOR_H

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int monitor_cmd(int argc, char **argv, int json);

#endif
