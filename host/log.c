// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>

#include "host/log.h"

int ekp_verbose;

static void (*hook)(void *ctx);
static void *hook_ctx;

void ekp_log_set_hook(void (*before)(void *ctx), void *ctx)
{
	hook = before;
	hook_ctx = ctx;
}

static void say(const char *level, const char *fmt, va_list ap)
{
	if (hook)
		hook(hook_ctx);
	fprintf(stderr, "ekprobe-host: %s", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ekp_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

void ekp_debug(const char *fmt, ...)
{
	va_list ap;

	if (!ekp_verbose)
		return;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

void ekp_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("warning: ", fmt, ap);
	va_end(ap);
}

void ekp_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("error: ", fmt, ap);
	va_end(ap);
}
