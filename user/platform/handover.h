/* SPDX-License-Identifier: GPL-2.0 */
/* Sequence numbers between espx and the kernel's own ESP, for SAs both
 * hold (daemon mode: espx mirrors the kernel's SAs). The GCM IV is the
 * sequence number, so one number sent twice under a key breaks GCM:
 *  - take: when espx starts carrying traffic (attach), each SA's output
 *    number is raised to the kernel's and the kernel's inbound window is
 *    taken if it is ahead;
 *  - give: when espx stops (detach, daemon stop), the kernel gets espx's
 *    output number and window (NEWAE), before the kernel path resumes.
 * Both only ever raise numbers. Without kernel ESP, or for SAs the kernel
 * does not have, they do nothing. */
#ifndef ESPX_HANDOVER_H
#define ESPX_HANDOVER_H

#include <linux/types.h>

/* Number of SAs synchronised, or -errno. */
int handover_take(void);
/* split: espx goes on sending on other devices. Then the number space is
 * split: espx jumps ahead (by 2^40 with ESN, else up to 2^28) and the
 * kernel gets the numbers below the jump, so the two senders cannot meet
 * before a rekey (the arithmetic: model/sa_table.h, sa_split_gap). */
int handover_give(int split);

#endif
