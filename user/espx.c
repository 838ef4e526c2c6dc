// SPDX-License-Identifier: GPL-2.0
/* espx: command-line entry point and command table. One binary,
 * subcommands in the style of ip(8) and bpftool(8); unique prefixes of
 * command names are accepted. Each do_<cmd>() is a thin call into cmd/
 * (state, policy, stats, monitor, daemon, status) or platform/ (attach,
 * detach, unload, check). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/daemon.h"
#include "cmd/monitor.h"
#include "cmd/policy.h"
#include "cmd/state.h"
#include "cmd/stats.h"
#include "cmd/status.h"
#include "common/log.h"
#include "platform/kcheck.h"
#include "platform/podpath.h"
#include "platform/transition.h"

#ifndef ESPX_VERSION
#define ESPX_VERSION "0.1"
#endif

static int json_output;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: espx [ -j ] [ -v ] COMMAND [ ARGS ]\n"
		"\n"
		"COMMAND := { check | attach | detach | status | unload | state | policy | stats |\n"
		"             monitor | daemon | bench | version | help }\n"
		"  check                       what the kernel offers and lacks for espx\n"
		"  attach DEV [ --xdp-mode { auto | native | generic } ] [ --xdp-dispatcher ]\n"
		"                              load the datapath (if needed) and attach it to DEV:\n"
		"                              XDP on receive, tcx egress on transmit; a device\n"
		"                              with libxdp's dispatcher (xdp-loader) is joined, and\n"
		"                              --xdp-dispatcher makes one (others may join later)\n"
		"  attach VETH --redirect      the pod fast path on a pod's veth (node side), once\n"
		"                              the uplink is attached: decrypted packets go into it\n"
		"                              from XDP, what the pod sends is encrypted at its tcx\n"
		"                              ingress and redirected to the uplink (docs/containers.md)\n"
		"  detach DEV                  take espx off DEV (SAs stay in the maps)\n"
		"  status [ --all ]            devices espx is attached to, SA count, daemon heartbeat;\n"
		"                              --all: every network namespace espx has state in\n"
		"  unload                      detach from all devices, remove all pinned state\n"
		"  state { add | del | list | flush } ...\n"
		"                              SAs, in 'ip xfrm state' syntax (espx state help)\n"
		"  policy { add | del | list | flush } ...\n"
		"                              policies, in 'ip xfrm policy' syntax (espx policy help)\n"
		"  stats [ --prometheus ]      per-SA counters, drops and pass-throughs by reason\n"
		"                              (--prometheus: in Prometheus' text format)\n"
		"  monitor [ --count N ] [ --timeout SEC ] [ --backlog ]\n"
		"                              print SA lifetime events (soft/hard limits) from\n"
		"                              now on (--backlog: also those queued before)\n"
		"  daemon [ --interval MS ] [ --metrics-file PATH ] [ dev DEV ]...\n"
		"                              mirror the kernel's XFRM SAs and policies (as an IKE\n"
		"                              daemon programs them), attach to DEV, report counters\n"
		"                              and expiries back (needs kernel ESP; espx daemon help)\n"
		"  bench ab [ ARGS ]           kernel XFRM against espx, A/B (scripts/bench-ab.sh)\n"
		"\n"
		"  -j, --json                  JSON output for check, status, list commands, stats\n"
		"                              and monitor\n"
		"  -v, --verbose               more messages (libbpf and verifier logs)\n");
}

static int do_check(int argc, char **argv)
{
	return kcheck_report(stdout, json_output, espx_log_get_level() >= LOG_INFO) ? 1 : 0;
}

static int do_attach(int argc, char **argv)
{
	enum espx_xdp_mode mode = ESPX_XDP_AUTO;
	const char *dev = NULL;
	int i, redirect = 0, mode_set = 0;
	unsigned int flags = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--redirect")) {
			redirect = 1;
		} else if (!strcmp(argv[i], "--xdp-dispatcher")) {
			flags |= ESPX_ATTACH_DISPATCHER;
		} else if (!strcmp(argv[i], "--xdp-mode") && i + 1 < argc) {
			mode_set = 1;
			const char *m = argv[++i];

			if (!strcmp(m, "auto"))
				mode = ESPX_XDP_AUTO;
			else if (!strcmp(m, "native"))
				mode = ESPX_XDP_NATIVE;
			else if (!strcmp(m, "generic"))
				mode = ESPX_XDP_GENERIC;
			else {
				pr_warn("invalid --xdp-mode '%s': use auto, native or generic\n", m);
				return 2;
			}
		} else if (argv[i][0] == '-') {
			pr_warn("attach: unknown option '%s'\n", argv[i]);
			return 2;
		} else if (!dev) {
			dev = argv[i];
		} else {
			pr_warn("attach: unexpected argument '%s' (one device per call)\n", argv[i]);
			return 2;
		}
	}
	if (!dev) {
		pr_warn("attach: which device? usage: espx attach DEV\n");
		return 2;
	}
	if (redirect && (mode_set || flags)) {
		pr_warn("attach: --redirect attaches no XDP program to %s: drop %s\n", dev,
			mode_set ? "--xdp-mode" : "--xdp-dispatcher");
		return 2;
	}
	if (redirect)
		return pod_attach(dev) ? 1 : 0;
	return espx_attach(dev, mode, flags) ? 1 : 0;
}

static int do_detach(int argc, char **argv)
{
	if (argc != 2) {
		pr_warn("usage: espx detach DEV\n");
		return 2;
	}
	return espx_detach(argv[1]) ? 1 : 0;
}

static int do_status(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--all"))
		return espx_status_all(json_output) ? 1 : 0;
	if (argc != 1) {
		pr_warn("status: unexpected argument '%s' (espx status [ --all ])\n", argv[1]);
		return 2;
	}
	return espx_status(json_output) ? 1 : 0;
}

static int do_unload(int argc, char **argv)
{
	return espx_unload() ? 1 : 0;
}

static int do_state(int argc, char **argv)
{
	return state_cmd(argc, argv, json_output);
}

static int do_policy(int argc, char **argv)
{
	return policy_cmd(argc, argv, json_output);
}

static int do_stats(int argc, char **argv)
{
	return stats_cmd(argc, argv, json_output);
}

static int do_monitor(int argc, char **argv)
{
	return monitor_cmd(argc, argv, json_output);
}

static int do_daemon(int argc, char **argv)
{
	return daemon_cmd(argc, argv);
}

/* `espx bench ab ...`: the A/B benchmark against the kernel's ESP is a
 * script (namespaces, iperf3, gnuplot); run the one next to this binary's
 * source tree. */
static int do_bench(int argc, char **argv)
{
	char self[4096], path[4200], *slash;
	ssize_t n;

	if (argc < 2 || strcmp(argv[1], "ab")) {
		pr_warn("usage: espx bench ab [-r ROUNDS] [-s SECONDS] [-o DIR] [-k 128|256] [--only SIDES]\n"
			"  kernel XFRM (A) against espx (B) and, with the espx_aead module, espx on the AEAD\n"
			"  backend (C), alternating; table, JSON and PNG (scripts/bench-ab.sh)\n");
		return 2;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		n = 0;
	self[n] = '\0';
	slash = strrchr(self, '/');	/* .../build/espx -> ... */
	if (slash)
		*slash = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/scripts/bench-ab.sh", self);
	if (access(path, X_OK)) {
		pr_warn("bench ab: %s not found; run scripts/bench-ab.sh from the espx source tree\n", path);
		return 1;
	}
	argv[1] = path;
	execv(path, argv + 1);
	pr_warn("bench ab: running %s: %s\n", path, strerror(errno));
	return 1;
}

static int do_version(int argc, char **argv)
{
	printf("espx %s\n", ESPX_VERSION);
	return 0;
}

static int do_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	int takes_args;	/* else any argument is an error */
} cmds[] = {
	{ "check", do_check, 0 },
	{ "attach", do_attach, 1 },
	{ "detach", do_detach, 1 },
	{ "status", do_status, 1 },
	{ "unload", do_unload, 0 },
	{ "state", do_state, 1 },
	{ "policy", do_policy, 1 },
	{ "stats", do_stats, 1 },
	{ "monitor", do_monitor, 1 },
	{ "daemon", do_daemon, 1 },
	{ "bench", do_bench, 1 },
	{ "version", do_version, 0 },
	{ "help", do_help, 0 },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const struct cmd *found = NULL;
	size_t i, len;
	int c;

	/* options before the command only; the command parses its own */
	while ((c = getopt_long(argc, argv, "+jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json_output = 1;
			break;
		case 'v':
			espx_log_set_level(espx_log_get_level() + 1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* -j and -v also work after the command, as bpftool allows */
	for (c = optind, i = optind; c < argc; c++) {
		if (!strcmp(argv[c], "-j") || !strcmp(argv[c], "--json"))
			json_output = 1;
		else if (!strcmp(argv[c], "-v") || !strcmp(argv[c], "--verbose"))
			espx_log_set_level(espx_log_get_level() + 1);
		else
			argv[i++] = argv[c];
	}
	argc = (int)i;
	espx_log_setup_libbpf();
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	len = strlen(argv[optind]);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[optind], len))
			continue;
		if (strlen(cmds[i].name) == len) {
			found = &cmds[i];
			break;
		}
		if (found) {
			pr_warn("'%s' is ambiguous: %s or %s?\n", argv[optind], found->name,
				cmds[i].name);
			return 2;
		}
		found = &cmds[i];
	}
	if (!found) {
		pr_warn("unknown command '%s'; see 'espx help'\n", argv[optind]);
		return 2;
	}
	if (!found->takes_args && argc - optind > 1) {
		pr_warn("%s: unexpected argument '%s'; see 'espx help'\n", found->name,
			argv[optind + 1]);
		return 2;
	}
	return found->fn(argc - optind, argv + optind);
}
