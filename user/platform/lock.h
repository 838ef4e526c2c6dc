/* SPDX-License-Identifier: GPL-2.0 */
/* espx's run-time directory and its locks.
 *
 * /run/espx (ESPX_RUN_DIR) holds the command lock, the one-daemon-per-
 * namespace locks and the device settings saved while attached. It must be
 * root's alone: a file another user could create or hold there would let
 * that user hang every espx command (a world-writable /run/lock did), or
 * point espx's writes elsewhere with a symlink. So the directory is created
 * 0700 when missing and refused, with a message saying what is wrong, when
 * it is a symlink, not a directory, not owned by root (or the effective
 * user) or writable by group or others; files in it are opened with
 * O_NOFOLLOW and must be regular files.
 *
 * The command lock is one for the whole machine (every network namespace),
 * as it always was: an flock on /run/espx/lock, waited for at most
 * ESPX_LOCK_WAIT_S seconds (ESPX_LOCK_WAIT=SECONDS in the environment
 * changes it), then refused with the holder's pid and name. */
#ifndef ESPX_LOCK_H
#define ESPX_LOCK_H

#define ESPX_RUN_DIR		"/run/espx"
#define ESPX_LOCK_NAME		"lock"
#define ESPX_LOCK_WAIT_S	30

/* Check (and create if missing) ESPX_RUN_DIR; 0 or -errno, message printed. */
int espx_run_dir(void);

/* Open NAME inside ESPX_RUN_DIR (checked first) with O_NOFOLLOW |
 * O_CLOEXEC (flags adds e.g. O_RDWR | O_CREAT; mode 0600), and insist on a
 * regular file. fd or -errno, message printed. */
int espx_run_open(const char *name, int flags);

/* Pid and command name of the process holding an flock on fd's file, from
 * /proc/locks; 0 and "" when it cannot be told. */
int espx_lock_holder(int fd, char *comm, size_t n);

/* Serialise espx invocations that change pins or run set-up programs:
 * flock on ESPX_RUN_DIR/lock, waiting at most the configured time. -1 on
 * failure (message printed), else a token for espx_unlock. */
int espx_lock(void);
/* The same with an explicit wait in milliseconds; warn 0 keeps a timeout
 * quiet (the caller says something itself). */
int espx_lock_wait(int wait_ms, int warn);
void espx_unlock(int token);
/* This process takes the lock again no sooner than ns nanoseconds from
 * now (a pause it owes, kept outside the lock so that others get their
 * turn: the policy table's grace, pol_store.c). */
void espx_lock_defer(unsigned long long ns);

#endif
