// SPDX-License-Identifier: GPL-2.0
/* `espx monitor`: print datapath events as they come: lifetime limits and
 * ACQUIREs (include/espx_event.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "espx_event.h"
#include "espx_drop.h"
#include "common/print.h"
#include "common/log.h"
#include "common/util.h"
#include "cmd/monitor.h"
#include "platform/datapath.h"
#include "model/xfrm_parse.h"

#define DONE	(-ECANCELED)	/* from the callback: --count reached */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct mon {
	int json;
	unsigned long count;	/* 0: no limit */
	unsigned long seen;
	__u64 since;		/* skip events stamped before this (boot ns) */
};

/* One printer per event for text and JSON (common/print.h): the text line
 * leads with the SA, the JSON object with the event's type. */
static void event_print(const struct espx_event *ev, int json)
{
	const char *type = ev->type == ESPX_EV_HARD ? "hard" : "soft";
	char a[INET6_ADDRSTRLEN];
	struct pw p;

	addr_str(ev->sa.daddr, ev->sa.family, a, sizeof(a));
	pw_init(&p, stdout, json);
	pw_obj_open(&p, NULL);
	pw_uint(&p, PRINT_FP, NULL, "spi 0x%08x", ntohl(ev->sa.spi));
	pw_str(&p, PRINT_JSON, "event", NULL, type);
	pw_str(&p, PRINT_JSON, "dir", NULL, ev->dir == ESPX_DIR_OUT ? "out" : "in");
	pw_str(&p, PRINT_ANY, "dst", " dst %s", a);
	pw_str(&p, PRINT_FP, NULL, ": %s limit reached", type);
	pw_str(&p, PRINT_JSON, "family", NULL, ev->sa.family == AF_INET6 ? "inet6" : "inet");
	pw_uint(&p, PRINT_JSON, "spi", NULL, ntohl(ev->sa.spi));
	pw_u64(&p, PRINT_ANY, "packets", " (%llu packets", ev->packets);
	pw_u64(&p, PRINT_ANY, "bytes", ", %llu bytes)\n", ev->bytes);
	pw_u64(&p, PRINT_JSON, "time_ns", NULL, ev->time);
	pw_obj_close(&p);
	pw_end(&p);
}

static void acquire_print(const struct espx_acquire_event *ev, int json)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[16];
	char tsrc[INET6_ADDRSTRLEN], tdst[INET6_ADDRSTRLEN];
	const struct espx_tmpl *t = &ev->tmpl;
	const char *proto;
	struct pw p;

	addr_str(ev->saddr, ev->family, src, sizeof(src));
	addr_str(ev->daddr, ev->family, dst, sizeof(dst));
	addr_str(t->saddr, t->family ? t->family : ev->family, tsrc, sizeof(tsrc));
	addr_str(t->daddr, t->family ? t->family : ev->family, tdst, sizeof(tdst));
	proto = xp_proto_name(ev->proto, pbuf, sizeof(pbuf));
	pw_init(&p, stdout, json);
	pw_obj_open(&p, NULL);
	pw_str(&p, PRINT_ANY, "event", "%s:", "acquire");
	pw_str(&p, PRINT_JSON, "dir", NULL, "out");
	pw_uint(&p, PRINT_ANY, "index", " policy index %u", ev->index);
	pw_str(&p, PRINT_ANY, "policy_dir", " dir %s", xp_dir_name(ev->pol_dir));
	pw_str(&p, PRINT_JSON, "family", NULL, ev->family == AF_INET6 ? "inet6" : "inet");
	pw_str(&p, PRINT_ANY, "src", ": %s", src);
	pw_str(&p, PRINT_ANY, "dst", " -> %s", dst);
	pw_str(&p, PRINT_ANY, "proto", " proto %s", proto);
	pw_uint(&p, PRINT_ANY, "sport", " sport %u", ntohs(ev->sport));
	pw_uint(&p, PRINT_ANY, "dport", " dport %u", ntohs(ev->dport));
	pw_obj_open(&p, "tmpl");
	pw_str(&p, PRINT_ANY, "src", "; tmpl src %s", tsrc);
	pw_str(&p, PRINT_ANY, "dst", " dst %s", tdst);
	pw_uint(&p, PRINT_ANY, "reqid", " reqid %u", t->reqid);
	pw_uint(&p, PRINT_JSON, "spi", NULL, ntohl(t->spi));
	pw_str(&p, PRINT_ANY, "mode", " mode %s\n", xp_mode_name(t->mode));
	pw_obj_close(&p);
	pw_u64(&p, PRINT_JSON, "time_ns", NULL, ev->time);
	pw_obj_close(&p);
	pw_end(&p);
}

/* Every event starts with type and dir (espx_event.h); the rest by type.
 * 1 if printed. */
static int print_one(const void *data, size_t len, const struct mon *m)
{
	const struct espx_acquire_event *aq = data;
	const struct espx_event *ev = data;

	if (len < sizeof(__u32))
		return 0;
	/* the ring keeps what nobody read: old news unless --backlog */
	switch (*(const __u32 *)data) {
	case ESPX_EV_ACQUIRE:
		if (len < sizeof(*aq) || aq->time < m->since)
			return 0;
		acquire_print(aq, m->json);
		return 1;
	case ESPX_EV_SOFT:
	case ESPX_EV_HARD:
		if (len < sizeof(*ev) || ev->time < m->since)
			return 0;
		event_print(ev, m->json);
		return 1;
	}
	return 0;	/* a type this espx does not know */
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct mon *m = ctx;

	if (!print_one(data, len, m))
		return 0;
	/* one line per event, even into a pipe */
	fflush(stdout);
	m->seen++;
	return m->count && m->seen >= m->count ? DONE : 0;
}

static int parse_ulong(const char *s, unsigned long *v)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int parse_args(int argc, char **argv, struct mon *m, unsigned long *timeout)
{
	int i;

	m->since = boot_ns();
	for (i = 1; i < argc; i++) {
		int is_count = !strcmp(argv[i], "--count") || !strcmp(argv[i], "count");
		int is_timeout = !strcmp(argv[i], "--timeout") || !strcmp(argv[i], "timeout");

		if (!strcmp(argv[i], "--backlog")) {
			m->since = 0;
			continue;
		}
		if (!is_count && !is_timeout) {
			pr_warn("monitor: unknown argument '%s'; expected --count N, --timeout SEC or --backlog\n",
				argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc || parse_ulong(argv[i + 1], is_count ? &m->count : timeout)) {
			pr_warn("monitor: '%s' needs a number (%s)%s%s%s\n", argv[i],
				is_count ? "events to wait for" : "seconds",
				i + 1 < argc ? ", not '" : "", i + 1 < argc ? argv[i + 1] : "",
				i + 1 < argc ? "'" : "");
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

static int wait_events(struct ring_buffer *rb, unsigned long timeout)
{
	__u64 end = timeout ? boot_ns() + (__u64)timeout * 1000000000ULL : 0;
	int err = 0, ms;

	while (!stop) {
		ms = 1000;
		if (end) {
			__u64 now = boot_ns();

			if (now >= end)
				break;
			if (end - now < 1000000000ULL)
				ms = (int)((end - now + 999999) / 1000000);
		}
		err = ring_buffer__poll(rb, ms);
		if (err == DONE || err == -EINTR)
			return 0;
		if (err < 0) {
			pr_warn("monitor: reading espx_events: %s\n", strerror(-err));
			return err;
		}
	}
	return 0;
}

int monitor_cmd(int argc, char **argv, int json)
{
	struct mon m = { .json = json };
	struct sigaction sa = { .sa_handler = on_signal };
	struct ring_buffer *rb;
	unsigned long timeout = 0;
	int fd, err;

	if (parse_args(argc, argv, &m, &timeout))
		return 2;
	fd = espx_obj_open(ESPX_MAP_EVENTS);
	if (fd < 0)
		return 1;
	rb = ring_buffer__new(fd, on_event, &m, NULL);
	if (!rb) {
		err = -errno;
		pr_warn("monitor: opening the espx_events ring buffer: %s\n", strerror(-err));
		close(fd);
		return 1;
	}
	/* no SA_RESTART: Ctrl-C interrupts the wait at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = wait_events(rb, timeout);
	ring_buffer__free(rb);
	close(fd);
	return err ? 1 : 0;
}
