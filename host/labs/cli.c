// SPDX-License-Identifier: GPL-2.0
/* `ekprobe-host report ...` and `ekprobe-host diff ...` (trace.h, docs/labs.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "ekprobe/util.h"
#include "host/labs/trace.h"
#include "host/log.h"

#define EXIT_TROUBLE 2 /* as diff(1): 0 same, 1 different, 2 trouble */

static const char usage_text[] =
"Usage: ekprobe-host report [-o FILE] TRACE\n"
"       ekprobe-host diff [--format text|json] [--top N] [-o FILE] A B\n"
"\n"
"TRACE, A and B are JSON traces (--format json, with --summary for its totals; - is\n"
"standard input).\n"
"  report  one self-contained HTML file: the boot timeline (initcalls as bars per CPU),\n"
"          the per-probe table, return latencies, the 20 slowest initcalls\n"
"  diff    initcall duration changes (largest first), initcalls and probes in one trace\n"
"          only, count changes, totals; exit status 0 no change, 1 changes, 2 trouble\n"
"  -o, --output FILE   write there (default standard output)\n"
"      --format F      diff: text (default) or json\n"
"      --top N         diff: at most N initcall changes (default 25; 0: all)\n";

static int write_out(const char *path, const struct ekp_buf *b)
{
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : STDOUT_FILENO;
	size_t at = 0;

	if (fd < 0)
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	while (at < b->len) {
		ssize_t n = write(fd, b->data + at, b->len - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			if (path)
				close(fd);
			return ekp_err(e, "%s: %s", path ? path : "standard output", strerror(e));
		}
		at += (size_t)n;
	}
	if (path && close(fd))
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	return 0;
}

static int load(struct ekp_trace *t, struct ekp_analysis *a, const char *path)
{
	int err = ekp_trace_load(t, path);

	if (!err) {
		if (t->cut_short)
			ekp_warn("%s: the last line was cut short and is left out", path);
		err = ekp_analyze(t, a);
	}
	return err;
}

int ekp_labs_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *output = NULL;
	bool diff = !strcmp(cmd, "diff"), json = false, changed = false;
	struct ekp_trace t[2] = { 0 };
	struct ekp_analysis a[2] = { 0 };
	struct ekp_buf out = { 0 };
	unsigned int top = 25, nr;
	uint64_t v;
	int c, err = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'f':
			if (!diff || (strcmp(optarg, "text") && strcmp(optarg, "json"))) {
				fprintf(stderr, "ekprobe-host %s: --format %s: expected text or json "
					"(diff only)\n", cmd, optarg);
				return EXIT_TROUBLE;
			}
			json = !strcmp(optarg, "json");
			break;
		case 't':
			if (!diff || ekp_parse_u64(optarg, 10, &v) || v > 1000000) {
				fprintf(stderr, "ekprobe-host %s: --top %s: expected 0 to 1000000 "
					"(diff only)\n", cmd, optarg);
				return EXIT_TROUBLE;
			}
			top = (unsigned int)v;
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return EXIT_TROUBLE;
		}
	}
	nr = diff ? 2 : 1;
	if (argc - optind != (int)nr) {
		fprintf(stderr, "ekprobe-host %s: expected %s\n%s", cmd, diff ? "two traces" :
			"one trace", usage_text);
		return EXIT_TROUBLE;
	}
	for (unsigned int i = 0; i < nr && !err; i++)
		err = load(&t[i], &a[i], argv[optind + i]);
	if (!err)
		err = diff ? ekp_diff(&out, &t[0], &a[0], &t[1], &a[1], json, top, &changed)
			   : ekp_report_html(&out, &t[0], &a[0]);
	if (!err)
		err = write_out(output, &out);
	if (err)
		ekp_error("%s", ekp_errstr(err));
	for (unsigned int i = 0; i < nr; i++) {
		ekp_analysis_free(&a[i]);
		ekp_trace_free(&t[i]);
	}
	ekp_buf_free(&out);
	return err ? EXIT_TROUBLE : changed;
}
