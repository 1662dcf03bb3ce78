/* SPDX-License-Identifier: GPL-2.0 */
/* Messages to the user on stderr, always prefixed "ekprobe-host: " (host/ only; never proto/). */
#ifndef EKPROBE_HOST_LOG_H
#define EKPROBE_HOST_LOG_H

extern int ekp_verbose;

void ekp_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ekp_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* with -v */
void ekp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ekp_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Called before every message is printed (the live status line takes itself off); NULL: none. */
void ekp_log_set_hook(void (*before)(void *ctx), void *ctx);

#endif
