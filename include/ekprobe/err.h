/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One error-reporting path, libbpf style: every fallible function returns a negative errno
 * (or NULL) and may record a human-readable reason with ekp_err(). The caller that decides
 * to report prints ekp_errmsg(). Library code (proto/, parsers) never prints.
 */
#ifndef EKPROBE_ERR_H
#define EKPROBE_ERR_H

#include <stddef.h>

/* Record a reason for the current thread's last failure and return -err (err > 0). */
int ekp_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the recorded reason with more context ("probe 3: " + reason); returns err as given. */
int ekp_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reason recorded last on this thread, or "" if none. */
const char *ekp_errmsg(void);
void ekp_err_clear(void);

#endif
