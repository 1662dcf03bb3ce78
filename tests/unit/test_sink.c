// SPDX-License-Identifier: GPL-2.0
/*
 * The sink's writing: whole records only, every write error reported with the file and the
 * reason, remembered, and never a cut record left in a regular file. Real descriptors: a
 * file, /dev/full, a pipe with no reader, a file under RLIMIT_FSIZE (in a child process).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/sinks/sink.h"
#include "tests/unit/helpers.h"

static struct ekp_probe *probe;
static struct ekp_value values[1];

static struct ekp_event event(bool task_known)
{
	struct ekp_event ev = {
		.probe = probe, .kind = EKP_PROBE_ENTRY, .addr = 0xffffffff81000000ull,
		.hit_pc = 0xffffffff81000000ull, .cpu = 1, .ts_ns = 1000, .engine = "trap",
		.task = { .known = task_known, .pid = 7, .comm = "init" },
		.nr_values = 1, .values = values,
	};
	return ev;
}

/* The whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *data;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	data = calloc(1, (size_t)sb.st_size + 1);
	assert_non_null(data);
	*len = fread(data, 1, (size_t)sb.st_size, f);
	assert_int_equal(*len, (size_t)sb.st_size);
	fclose(f);
	return data;
}

/* Every line of a JSON trace is a whole event or the summary. */
static unsigned int check_json_lines(const char *data, size_t len, bool *summary)
{
	unsigned int n = 0;

	*summary = false;
	assert_true(len == 0 || data[len - 1] == '\n');
	for (const char *p = data; p < data + len; n++) {
		const char *nl = memchr(p, '\n', (size_t)(data + len - p));
		json_error_t jerr;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &jerr);

		if (!j)
			fail_msg("line %u is not JSON (%s): %.*s", n + 1, jerr.text, (int)(nl - p), p);
		if (json_object_get(j, "summary"))
			*summary = true;
		else if (!json_object_get(j, "args") || !json_object_get(j, "comm"))
			fail_msg("line %u is not a whole event: %.*s", n + 1, (int)(nl - p), p);
		json_decref(j);
		p = nl + 1;
	}
	return n;
}

static void test_whole_records_and_unknown_tasks(void **state)
{
	const char *path = t_tmp_path("trace.json");
	struct ekp_summary sum = { .end = "guest exited" };
	struct ekp_sink s;
	struct ekp_event known = event(true), unknown = event(false);
	bool have_summary;
	char *data;
	size_t len;
	json_t *j;
	int fd;

	(void)state;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	ekp_sink_init(&s, EKP_FORMAT_JSON, fd, path, NULL);
	for (unsigned int i = 0; i < 5000; i++) /* more than one chunk */
		assert_int_equal(ekp_sink_event(&s, i % 3 ? &known : &unknown), 0);
	assert_int_equal(ekp_sink_summary(&s, &sum), 0);
	assert_int_equal(ekp_sink_error(&s), 0);
	ekp_sink_fini(&s);
	close(fd);

	data = slurp(path, &len);
	assert_int_equal(check_json_lines(data, len, &have_summary), 5001);
	assert_true(have_summary);
	assert_non_null(strstr(data, "{\"summary\""));
	j = json_loads(strstr(data, "{\"summary\""), 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"),
							    "unknown_task")), 1667);
	json_decref(j);
	free(data);

	/* The text summary says it too. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	ekp_sink_init(&s, EKP_FORMAT_TEXT, fd, path, NULL);
	assert_int_equal(ekp_sink_event(&s, &unknown), 0);
	assert_int_equal(ekp_sink_event(&s, &known), 0);
	assert_int_equal(ekp_sink_summary(&s, &sum), 0);
	ekp_sink_fini(&s);
	close(fd);
	data = slurp(path, &len);
	assert_non_null(strstr(data, "\n# 1 event with an unknown task (<...>-?)\n"));
	assert_non_null(strstr(data, "           <...>-?       [001]"));
	free(data);
}

static void assert_sink_failed(struct ekp_sink *s, int err, const char *msg)
{
	struct ekp_event ev = event(true);
	struct ekp_summary sum = { .end = "x" };

	assert_int_equal(ekp_sink_error(s), err);
	assert_string_equal(ekp_errstr(err), msg);
	/* Every later call fails at once, with the same reason. */
	ekp_err_clear();
	assert_int_equal(ekp_sink_event(s, &ev), err);
	assert_string_equal(ekp_errstr(err), msg);
	ekp_err_clear();
	assert_int_equal(ekp_sink_summary(s, &sum), err);
	assert_string_equal(ekp_errstr(err), msg);
	ekp_err_clear();
	assert_int_equal(ekp_sink_flush(s), err);
	assert_string_equal(ekp_errstr(err), msg);
}

static void test_dev_full(void **state)
{
	struct ekp_event ev = event(true);
	struct ekp_sink s;
	int fd = open("/dev/full", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	ekp_sink_init(&s, EKP_FORMAT_TEXT, fd, "/dev/full", NULL);
	assert_int_equal(ekp_sink_event(&s, &ev), 0); /* buffered */
	assert_int_equal(ekp_sink_error(&s), 0);
	assert_int_equal(ekp_sink_flush(&s), -ENOSPC);
	assert_sink_failed(&s, -ENOSPC, "writing the trace to /dev/full: No space left on device");
	ekp_sink_fini(&s);
	close(fd);
}

static void test_pipe_without_reader(void **state)
{
	struct ekp_event ev = event(true);
	struct ekp_sink s;
	int p[2];

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as ekprobe-host does */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	ekp_sink_init(&s, EKP_FORMAT_JSON, p[1], NULL, NULL);
	assert_int_equal(ekp_sink_event(&s, &ev), 0);
	assert_int_equal(ekp_sink_flush(&s), -EPIPE);
	assert_sink_failed(&s, -EPIPE, "writing the trace to standard output: Broken pipe");
	ekp_sink_fini(&s);
	close(p[1]);
}

/*
 * A file that can grow only to limit bytes, in a child (RLIMIT_FSIZE is per process): the
 * write that crosses it is cut short, the next fails with EFBIG. The child sends back the
 * error and its reason.
 */
static void write_until_full(enum ekp_format format, const char *path, off_t limit,
			     unsigned int nr_events, int *err, char *msg, size_t msg_size)
{
	struct { int err; char msg[480]; } res = { 0 };
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = (rlim_t)limit, .rlim_max = (rlim_t)limit };
		struct ekp_event ev = event(true);
		struct ekp_sink s;
		int fd;

		signal(SIGXFSZ, SIG_IGN);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || setrlimit(RLIMIT_FSIZE, &rl))
			_exit(2);
		ekp_sink_init(&s, format, fd, path, NULL);
		for (unsigned int i = 0; i < nr_events && !res.err; i++)
			res.err = ekp_sink_event(&s, &ev);
		if (!res.err)
			res.err = ekp_sink_flush(&s);
		snprintf(res.msg, sizeof(res.msg), "%s", ekp_errstr(res.err));
		_exit(write(p[1], &res, sizeof(res)) == sizeof(res) ? 0 : 3);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &res, sizeof(res)), sizeof(res));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	*err = res.err;
	snprintf(msg, msg_size, "%s", res.msg);
}

static void test_file_size_limit(void **state)
{
	const enum ekp_format formats[] = { EKP_FORMAT_TEXT, EKP_FORMAT_JSON };
	/* Events written, and the whole records that fit: one chunk, and many (the failing
	 * write is not the first). */
	const unsigned int runs[][2] = { { 30, 20 }, { 6000, 5000 } };
	const char *path = t_tmp_path("limited");
	char msg[512], want[512];

	(void)state;
	snprintf(want, sizeof(want), "writing the trace to %s: File too large", path);
	for (unsigned int f = 0; f < 2; f++) {
		struct ekp_event ev = event(true);
		struct ekp_buf rec = { 0 };

		/* Every record has the same length; the limit falls in the middle of one. */
		assert_int_equal(formats[f] == EKP_FORMAT_JSON ? ekp_format_json(&rec, &ev, NULL)
							       : ekp_format_text(&rec, &ev, NULL), 0);
		for (unsigned int r = 0; r < 2; r++) {
			size_t whole = runs[r][1] * rec.len, len;
			bool have_summary;
			char *data;
			int err;

			write_until_full(formats[f], path, (off_t)(whole + rec.len / 2), runs[r][0],
					 &err, msg, sizeof(msg));
			assert_int_equal(err, -EFBIG);
			assert_string_equal(msg, want);
			data = slurp(path, &len);
			assert_int_equal(len, whole);
			if (formats[f] == EKP_FORMAT_JSON)
				assert_int_equal(check_json_lines(data, len, &have_summary), runs[r][1]);
			for (size_t off = 0; off < len; off += rec.len)
				assert_memory_equal(data + off, rec.data, rec.len);
			free(data);
		}
		ekp_buf_free(&rec);
	}
}

static int setup(void **state)
{
	(void)state;
	if (ekp_probe_parse("p:g/e start_kernel c=$comm", &ekp_arch_x86_64, &probe, NULL))
		return -1;
	probe->addr = 0xffffffff81000000ull;
	strcpy(values[0].str, "init");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ekp_probe_free(probe);
	t_tmp_remove();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_records_and_unknown_tasks),
		cmocka_unit_test(test_dev_full),
		cmocka_unit_test(test_pipe_without_reader),
		cmocka_unit_test(test_file_size_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
