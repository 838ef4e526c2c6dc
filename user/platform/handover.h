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
 * before a rekey. */
int handover_give(int split);

/* Numbers the kernel keeps in hand at least, below a split's jump. */
#define SPLIT_STOP_MARGIN	1024
/* Must the kernel stop sending on a split SA without ESN? Its share ends
 * at `at` (espx's jump, espx_sa_split) and nothing in the kernel stops it
 * there: the daemon ends the SA (hard expire) once what is left would not
 * outlast four more intervals at the rate just seen (`step`: how far the
 * kernel's number moved in the last one), or SPLIT_STOP_MARGIN numbers. */
int handover_split_exhausted(__u64 at, __u64 k_oseq, __u64 step);

#endif
