/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One error-reporting path, libbpf style: every fallible function returns a negative errno
 * (or NULL) and may record a human-readable reason with ekp_err(). The caller that decides
 * to report prints ekp_errstr(err) for the error it got. Library code (proto/, parsers) never
 * prints.
 *
 * A reason is recorded together with its errno, so a failure that recorded nothing (a bare
 * -ENOMEM, say) is never shown with the reason of an older, unrelated one: ekp_errstr() gives
 * the recorded reason only for the errno it was recorded with, strerror() otherwise. Code that
 * handles a failure and goes on calls ekp_err_clear().
 */
#ifndef EKPROBE_ERR_H
#define EKPROBE_ERR_H

#include <stddef.h>

/* Record a reason for the current thread's last failure and return -err (err > 0 or < 0). */
int ekp_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Prefix the reason recorded for err with more context ("probe 3: " + reason), or strerror(err)
 * when none was recorded for it; returns err as given.
 */
int ekp_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reason recorded for err (negative or positive errno), else strerror(err). */
const char *ekp_errstr(int err);
/* The reason recorded last on this thread, whatever its errno, or "" if none. */
const char *ekp_errmsg(void);
void ekp_err_clear(void);

#endif
