// SPDX-License-Identifier: GPL-2.0
/* The single error path: a per-thread "why" next to the errno it explains. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"

static __thread char err_msg[1024];
static __thread int err_no; /* positive errno err_msg explains; 0: nothing recorded */

static int positive(int err)
{
	return err < 0 ? -err : err;
}

int ekp_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(err_msg, sizeof(err_msg), fmt, ap) < 0)
		err_msg[0] = '\0';
	va_end(ap);
	err_no = positive(err);
	return -positive(err);
}

int ekp_err_prefix(int err, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err_msg)];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(prefix, sizeof(prefix), fmt, ap) < 0)
		prefix[0] = '\0';
	va_end(ap);
	snprintf(old, sizeof(old), "%s", ekp_errstr(err));
	/* A reason longer than the buffer is cut; the start says the most. */
	if (snprintf(err_msg, sizeof(err_msg), "%s%s", prefix, old) >= (int)sizeof(err_msg))
		err_msg[sizeof(err_msg) - 1] = '\0';
	err_no = positive(err);
	return err;
}

const char *ekp_errstr(int err)
{
	if (err_no && err_no == positive(err) && err_msg[0])
		return err_msg;
	return strerror(positive(err));
}

const char *ekp_errmsg(void)
{
	return err_msg;
}

void ekp_err_clear(void)
{
	err_msg[0] = '\0';
	err_no = 0;
}
