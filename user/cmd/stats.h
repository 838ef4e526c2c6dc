/* SPDX-License-Identifier: GPL-2.0 */
/* `espx stats`: per-SA counters and the datapath's drop and pass-through
 * counters by reason and direction. */
#ifndef ESPX_STATS_H
#define ESPX_STATS_H

#include <stdio.h>

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int stats_cmd(int argc, char **argv, int json);

/* The same counters in Prometheus' text exposition format (HELP and TYPE
 * lines; per-SA series labelled spi, dst, dir; datapath series labelled
 * dir, reason, verdict; SA count; the daemon's heartbeat): 0 or -errno. */
int stats_prometheus(FILE *f);
/* Write them to path atomically (path.tmp, then rename), as node_exporter's
 * textfile collector wants: 0 or -errno. */
int stats_metrics_file(const char *path);

#endif
