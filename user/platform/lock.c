// SPDX-License-Identifier: GPL-2.0
/* espx's run-time directory and its locks (lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include "platform/lock.h"
#include "common/log.h"

/* Root's (or, without root, the effective user's), and nobody else may
 * write into it: what is in it was put there by espx. */
static int trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

int espx_run_dir(void)
{
	const char *dir = ESPX_RUN_DIR;
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	if (lstat(dir, &st)) {
		pr_warn("cannot read %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode)) {
		pr_warn("%s is a symbolic link; espx keeps its locks and saved settings only in a directory of root's own: remove it (rm %s) and run espx again\n",
			dir, dir);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_warn("%s is not a directory; espx keeps its locks and saved settings there: remove it and run espx again\n",
			dir);
		return -ENOTDIR;
	}
	if (!trusted_owner(st.st_uid) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pr_warn("%s is owned by uid %u with mode %04o; espx uses it only when root owns it and no one else can write to it (chown root:root %s; chmod 0700 %s), since another user's file there could hang or mislead espx\n",
			dir, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777), dir, dir);
		return -EPERM;
	}
	return 0;
}

int espx_run_open(const char *name, int flags)
{
	char path[128];
	struct stat st;
	int fd, err;

	err = espx_run_dir();
	if (err)
		return err;
	snprintf(path, sizeof(path), ESPX_RUN_DIR "/%s", name);
	/* O_NONBLOCK: a FIFO must not stall the open; it is refused below */
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		err = -errno;
		pr_warn("cannot open %s: %s%s\n", path, strerror(-err),
			err == -ELOOP ? " (a symbolic link: espx does not follow links there; remove it)" : "");
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !trusted_owner(st.st_uid)) {
		pr_warn("%s is not a regular file of root's; remove it and run espx again\n", path);
		close(fd);
		return -EPERM;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
		pr_debug("%s: clearing O_NONBLOCK: %s\n", path, strerror(errno));
	return fd;
}

int espx_lock_holder(int fd, char *comm, size_t n)
{
	unsigned int maj, min;
	unsigned long ino;
	char line[256], path[64];
	struct stat st;
	int pid = 0, p;
	FILE *f;

	if (n)
		comm[0] = 0;
	if (fstat(fd, &st) || !(f = fopen("/proc/locks", "re")))
		return 0;
	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters have "->" */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &p, &maj, &min, &ino) == 4 &&
		    ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev)) {
			pid = p;
			break;
		}
	fclose(f);
	if (pid > 0 && n) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, (int)n, f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
	}
	return pid > 0 ? pid : 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

static struct timespec lock_not_before;

void espx_lock_defer(unsigned long long ns)
{
	clock_gettime(CLOCK_MONOTONIC, &lock_not_before);
	lock_not_before.tv_sec += ns / 1000000000ULL;
	lock_not_before.tv_nsec += ns % 1000000000ULL;
	if (lock_not_before.tv_nsec >= 1000000000L) {
		lock_not_before.tv_sec++;
		lock_not_before.tv_nsec -= 1000000000L;
	}
}

int espx_lock_wait(int wait_ms, int warn)
{
	struct timespec t0, nap;
	long waited, delay = 5;
	char comm[32];
	int fd, pid;

	fd = espx_run_open(ESPX_LOCK_NAME, O_RDWR | O_CREAT);
	if (fd < 0)
		return -1;
	if (lock_not_before.tv_sec)
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &lock_not_before, NULL) == EINTR)
			;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* polled, never a blocking flock: whoever holds it, espx gives up in time */
	for (;;) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			pr_warn("cannot lock %s/%s: %s\n", ESPX_RUN_DIR, ESPX_LOCK_NAME,
				strerror(errno));
			close(fd);
			return -1;
		}
		waited = ms_since(&t0);
		if (waited >= wait_ms)
			break;
		if (delay > wait_ms - waited)
			delay = wait_ms - waited;
		nap.tv_sec = delay / 1000;
		nap.tv_nsec = (delay % 1000) * 1000000L;
		nanosleep(&nap, NULL);
		delay = delay < 50 ? delay * 2 : 100;
	}
	if (warn) {
		pid = espx_lock_holder(fd, comm, sizeof(comm));
		if (pid && comm[0])
			pr_warn("%s/%s is held by pid %d (%s) and was not released within %.1f s; another espx command or the daemon is busy or stuck there (ps -p %d; ESPX_LOCK_WAIT=SECONDS waits longer)\n",
				ESPX_RUN_DIR, ESPX_LOCK_NAME, pid, comm, wait_ms / 1000.0, pid);
		else if (pid)	/* the locker exited; a child it started has the file */
			pr_warn("%s/%s is held by a process that pid %d (gone) started and was not released within %.1f s; fuser -v %s/%s names it (ESPX_LOCK_WAIT=SECONDS waits longer)\n",
				ESPX_RUN_DIR, ESPX_LOCK_NAME, pid, wait_ms / 1000.0, ESPX_RUN_DIR,
				ESPX_LOCK_NAME);
		else
			pr_warn("%s/%s is held by another process and was not released within %.1f s; fuser -v %s/%s names it (ESPX_LOCK_WAIT=SECONDS waits longer)\n",
				ESPX_RUN_DIR, ESPX_LOCK_NAME, wait_ms / 1000.0, ESPX_RUN_DIR,
				ESPX_LOCK_NAME);
	}
	close(fd);
	errno = EWOULDBLOCK;
	return -1;
}

int espx_lock(void)
{
	const char *s = getenv("ESPX_LOCK_WAIT");
	long secs = ESPX_LOCK_WAIT_S;
	char *end;

	if (s && *s) {
		long v = strtol(s, &end, 10);

		if (*end || v < 0 || v > 3600)
			pr_warn("ESPX_LOCK_WAIT='%s' is not 0 to 3600 seconds; waiting %d s\n", s,
				ESPX_LOCK_WAIT_S);
		else
			secs = v;
	}
	return espx_lock_wait((int)(secs * 1000), 1);
}

void espx_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
