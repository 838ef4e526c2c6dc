/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel feature check: what espx needs from the running kernel, found out
 * before anything is loaded, so a missing feature is reported by name and
 * with the Linux version that brings it instead of as a verifier dump.
 *
 * Every item is one feature. `ok` is one of:
 *   KCHECK_OK       present
 *   KCHECK_MISSING  absent (for a required item: espx cannot run)
 *   KCHECK_UNKNOWN  could not be decided (e.g. probes need root, or the
 *                   ecb(aes) template is only instantiated on first use);
 *                   shown as WARN, never counted as a failure
 * A required item that is KCHECK_MISSING makes kcheck_report() and
 * kcheck_require() return -ENOTSUP. */
#ifndef ESPX_KCHECK_H
#define ESPX_KCHECK_H

#include <stdio.h>

#define KCHECK_MISSING	0
#define KCHECK_OK	1
#define KCHECK_UNKNOWN	(-1)

/* Enough for every check kcheck_run() knows; callers size arrays with it. */
#define KCHECK_MAX_ITEMS	16

struct kcheck_item {
	const char *name;	/* "BPF crypto kfuncs (bpf_crypto_encrypt...)" */
	const char *why;	/* what espx uses it for */
	const char *since;	/* first Linux version with it, "6.10" */
	const char *config;	/* "CONFIG_BPF_CRYPTO=y", or NULL */
	int ok;			/* KCHECK_OK, KCHECK_MISSING or KCHECK_UNKNOWN */
	int required;		/* 0: espx has a fallback */
	char detail[128];	/* what was found, or what to do */
};

/* Runs the checks; fills up to max items; returns the number filled. */
int kcheck_run(struct kcheck_item *items, int max);
/* Number of required items that are KCHECK_MISSING. */
int kcheck_failed(const struct kcheck_item *items, int n);
/* Prints a table (or a JSON array when json != 0) to out; verbose adds the
 * detail of passing items and why each is needed. Returns 0 when all
 * required checks pass, else -ENOTSUP. */
int kcheck_report(FILE *out, int json, int verbose);
/* Quiet variant used before attach: prints only missing required items to
 * stderr, one line each, "espx: kernel lacks X (needs Linux N.M+): why".
 * Returns 0 or -ENOTSUP. */
int kcheck_require(void);

#endif
