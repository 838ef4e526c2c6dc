// SPDX-License-Identifier: GPL-2.0
/* espx's state per network namespace identity (nsstate.h): the anchor,
 * the sweep that releases a dead namespace's state, the listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "espx_common.h"
#include "common/log.h"
#include "common/util.h"
#include "platform/objects.h"
#include "platform/lock.h"
#include "platform/nsstate.h"
#include "platform/pins.h"

#define GONE_PREFIX	"gone-"

static struct ns_entry released[NS_MAX_RELEASED];
static size_t nreleased;

long nsstate_anchor_ino(const char *dir)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[400];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, espx_obj_name(ESPX_LINK_ANCHOR));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	err = bpf_link_get_info_by_fd(fd, &info, &len);
	if (err)
		err = -errno;
	close(fd);
	if (err)
		return err;
	if (info.type != BPF_LINK_TYPE_NETNS)
		return -EINVAL;
	return (long)info.netns.netns_ino;
}

/* The anchor: espx_anchor (bpf/espx.bpf.c) attached to this namespace,
 * its link pinned. Loaded on its own, because it must be pinned before
 * the datapath's load pins its first map. */
static int make_anchor(int (*anchor_link)(void))
{
	char path[400];
	int link, err = 0;

	espx_obj_path(path, sizeof(path), ESPX_LINK_ANCHOR);
	link = anchor_link();
	if (link < 0)
		return link;
	if (bpf_obj_pin(link, path)) {
		err = -errno;
		pr_warn("pinning %s: %s\n", path, strerror(-err));
	}
	close(link);
	return err;
}

/* The name of namespace ino under /run/netns, if it has one. */
static void name_of(unsigned long ino, char *buf, size_t n)
{
	struct dirent *de;
	struct stat st;
	char path[320];
	DIR *d = opendir("/run/netns");

	buf[0] = '\0';
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (!stat(path, &st) && (unsigned long)st.st_ino == ino) {
			snprintf(buf, n, "%.63s", de->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
}

long nsstate_count_sas(const char *path)
{
	char key[64], next[64];
	long n = 0;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, n ? key : NULL, next)) {
		memcpy(key, next, sizeof(key));
		n++;
	}
	close(fd);
	return n;
}

/* What dir holds: devices with an XDP link, SAs. */
static void describe(const char *dir, unsigned long ino, struct ns_entry *e)
{
	char path[400], dev[IF_NAMESIZE + 8], kind[8];
	struct dirent *de;
	DIR *d;

	memset(e, 0, sizeof(*e));
	e->ino = ino;
	name_of(ino, e->name, sizeof(e->name));
	snprintf(path, sizeof(path), "%s/%s", dir, espx_obj_name(ESPX_MAP_SA));
	e->sas = nsstate_count_sas(path);
	snprintf(path, sizeof(path), "%s/%s", dir, ESPX_PIN_LINKS);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (!espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) &&
		    !strcmp(kind, "xdp") && e->ndevs < NS_MAX_DEVS)
			snprintf(e->devs[e->ndevs++], sizeof(e->devs[0]), "%s", dev);
	if (d)
		closedir(d);
}

/* Remove every pin under dir, links detached first, then dir itself. */
static void remove_tree(const char *dir)
{
	char path[512];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode))
			remove_tree(path);
		else if (espx_drop_link(path) < 0 && unlink(path) && errno != ENOENT)
			pr_warn("removing %s: %s\n", path, strerror(errno));
	}
	if (d)
		closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		pr_warn("removing %s: %s\n", dir, strerror(errno));
}

/* /run/espx/net-<ino>.*: the daemon's lock file, saved device settings. */
static void remove_run_files(const char *id)
{
	char prefix[96], path[512];
	struct dirent *de;
	DIR *d = opendir(ESPX_RUN_DIR);

	snprintf(prefix, sizeof(prefix), "%s.", id);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), ESPX_RUN_DIR "/%s", de->d_name);
		if (unlink(path) && errno != ENOENT)
			pr_warn("removing %s: %s\n", path, strerror(errno));
	}
	if (d)
		closedir(d);
}

/* Release dir (named id, of namespace ino) if its anchor still reads 0.
 * It is first renamed out of the way, so that one sweeper does it while
 * others (or a new namespace reusing the inode) find nothing there.
 * 1 if released (e filled), 0 if not ours to release. */
static int release(const char *dir, const char *id, unsigned long ino, struct ns_entry *e)
{
	char gone[400], devs[NS_MAX_DEVS * (IF_NAMESIZE + 9) + 1] = "";
	size_t i;
	int len;

	snprintf(gone, sizeof(gone), "%s/" GONE_PREFIX "%s-%d", ESPX_PIN_DIR, id, (int)getpid());
	if (rename(dir, gone))
		return 0;	/* another sweeper has it */
	if (nsstate_anchor_ino(gone) != 0) {
		/* recreated meanwhile by a namespace reusing the inode */
		if (rename(gone, dir))
			pr_warn("putting back %s: %s\n", dir, strerror(errno));
		return 0;
	}
	describe(gone, ino, e);
	remove_tree(gone);
	remove_run_files(id);
	for (i = 0, len = 0; i < (size_t)e->ndevs; i++)
		len += snprintf(devs + len, sizeof(devs) - (size_t)len, "%s%s", i ? "," : "",
				e->devs[i]);
	pr_info("released the espx state of network namespace %lu (gone): %d device link(s)%s%s%s, %ld SA(s)\n",
		ino, e->ndevs, e->ndevs ? " (" : "", devs, e->ndevs ? ")" : "",
		e->sas < 0 ? 0 : e->sas);
	return 1;
}

/* gone-<id>-<pid>: a release that <pid> did not finish (killed while at
 * it) is finished here; one whose anchor names a live namespace again
 * (the inode reused meanwhile) is left for <pid> to put back. */
static void finish_release(const char *dir, const char *rest)
{
	const char *dash = strrchr(rest, '-');
	char id[64];
	long a = nsstate_anchor_ino(dir);
	int pid = dash ? atoi(dash + 1) : 0;

	/* while <pid> lives it finishes (or puts back) itself */
	if (!dash || a > 0 || (pid > 0 && !kill(pid, 0)))
		return;
	snprintf(id, sizeof(id), "%.*s", (int)(dash - rest), rest);
	remove_tree(dir);
	remove_run_files(id);
	pr_info("finished releasing %s (a release interrupted)\n", id);
}

/* The state of an espx older than one directory per namespace identity. */
void nsstate_warn_old(void)
{
	char path[300];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", ESPX_PIN_DIR, espx_obj_name(ESPX_MAP_SA));
	if (!access(path, F_OK))
		pr_warn("%s holds maps of an older espx (one directory per namespace name): detach and unload them with that espx, or, once nothing uses them, remove them (everything in %s except the %s* directories)\n",
			ESPX_PIN_DIR, ESPX_PIN_DIR, ESPX_NS_DIR_PREFIX);
	d = opendir(ESPX_BPFFS);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "espx-", 5))
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name + 5);
		if (access(path, F_OK))
			pr_warn("%s/%s is the state an older espx kept for namespace %s, which is gone: remove it (rm -r %s/%s)\n",
				ESPX_BPFFS, de->d_name, de->d_name + 5, ESPX_BPFFS, de->d_name);
		else
			pr_warn("%s/%s is the state of an older espx in namespace %s: unload it with that espx (ip netns exec %s espx unload), or, once nothing uses it, remove it (rm -r %s/%s)\n",
				ESPX_BPFFS, de->d_name, de->d_name + 5, de->d_name + 5, ESPX_BPFFS,
				de->d_name);
	}
	if (d)
		closedir(d);
}

static int id_ino(const char *name, unsigned long *ino)
{
	char *end;

	if (strncmp(name, ESPX_NS_DIR_PREFIX, strlen(ESPX_NS_DIR_PREFIX)))
		return -EINVAL;
	errno = 0;
	*ino = strtoul(name + strlen(ESPX_NS_DIR_PREFIX), &end, 10);
	return errno || *end || !*ino ? -EINVAL : 0;
}

/* Walk the namespace directories: release the dead (recorded in
 * released[]) or, with live, collect the living into out. */
static int walk(struct ns_entry **out, size_t *n, int live)
{
	struct ns_entry e, *arr = NULL;
	size_t cap = 0, cnt = 0;
	char dir[400];
	struct dirent *de;
	unsigned long ino;
	long a;
	DIR *d = opendir(ESPX_PIN_DIR);

	if (!d)
		goto done;
	while ((de = readdir(d))) {
		snprintf(dir, sizeof(dir), "%s/%s", ESPX_PIN_DIR, de->d_name);
		if (!live && !strncmp(de->d_name, GONE_PREFIX, strlen(GONE_PREFIX))) {
			finish_release(dir, de->d_name + strlen(GONE_PREFIX));
			continue;
		}
		if (id_ino(de->d_name, &ino))
			continue;
		a = nsstate_anchor_ino(dir);
		if (a < 0) {
			/* being created, or pinned by xdp-loader: left alone */
			pr_debug("%s has no namespace anchor yet; left alone\n", dir);
			continue;
		}
		if (live ? (unsigned long)a != ino : a != 0 || !release(dir, de->d_name, ino, &e))
			continue;
		if (live)
			describe(dir, ino, &e);
		e.alive = live;
		if (!live) {
			if (nreleased < NS_MAX_RELEASED)
				released[nreleased++] = e;
		} else if (out) {
			if (array_grow((void **)&arr, &cap, cnt + 1, sizeof(*arr), 8)) {
				closedir(d);
				free(arr);
				return -ENOMEM;
			}
			arr[cnt++] = e;
		}
	}
	closedir(d);
done:
	if (out) {
		*out = arr;
		*n = cnt;
	}
	return 0;
}

int nsstate_sweep(void)
{
	return walk(NULL, NULL, 0);
}

const struct ns_entry *nsstate_released(size_t *n)
{
	*n = nreleased;
	return released;
}

int nsstate_list(struct ns_entry **out, size_t *n)
{
	return walk(out, n, 1);
}

int nsstate_prepare(const char *root, int (*anchor_link)(void))
{
	unsigned long self = espx_netns_ino();
	struct ns_entry e;
	const char *id = strrchr(root, '/') + 1;
	long a;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		a = nsstate_anchor_ino(root);
		if (a > 0 && (unsigned long)a == self)
			return 0;
		if (a == 0) {	/* a dead namespace's, whose inode this one reuses */
			release(root, id, self, &e);
			continue;
		}
		if (a > 0) {
			pr_warn("%s is anchored to network namespace %ld, not this one (%lu): renamed by hand? Remove it, or rename it back to %s/%s%ld\n",
				root, a, self, ESPX_PIN_DIR, ESPX_NS_DIR_PREFIX, a);
			return -EEXIST;
		}
		if (a != -ENOENT) {
			pr_warn("reading the anchor in %s: %s\n", root, strerror((int)-a));
			return (int)a;
		}
		/* none yet; the directory may hold maps xdp-loader pinned */
		if (mkdir(root, 0700) && errno != EEXIST) {
			pr_warn("cannot create %s: %s\n", root, strerror(errno));
			return -errno;
		}
		return make_anchor(anchor_link);	/* root is espx_pin_root() */
	}
	pr_warn("%s: kept being re-created while espx released it; try again\n", root);
	return -EAGAIN;
}

int nsstate_bpffs(int mount_it)
{
	static int swept;
	int err = espx_pins_bpffs(mount_it);

	if (!err && !swept) {
		swept = 1;
		nsstate_sweep();
	}
	return err;
}
