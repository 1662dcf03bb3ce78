// SPDX-License-Identifier: GPL-2.0
/*
 * The boot-analysis formats on synthetic events of every kind of value:
 *
 * - tracedat: the file is read back with libtracecmd and every event printed with
 *   libtraceevent as `trace-cmd report` prints it; task, CPU, time, name and values must be
 *   what the text format says for the same event (faults, escapes, cut strings, arrays,
 *   signed widths, symbols, unknown tasks, pages and time extends, dropped records);
 * - perfetto: a valid JSON document after every flush and after a write error; slices nest,
 *   unfinished calls close with their parent, phases and the lost counter are there;
 * - the pairer alone.
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
#include <trace-cmd.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/labs/pair.h"
#include "host/sinks/sink.h"
#include "tests/unit/helpers.h"

static const char system_map[] =
	"ffffffff81000000 T startup_64\n"
	"ffffffff81000100 T start_kernel\n"
	"ffffffff81000200 T do_one_initcall\n"
	"ffffffff81000300 T kernel_init_freeable\n"
	"ffffffff81000400 t init_kprobes\n"
	"ffffffff81000500 t init_other\n"
	"ffffffff81000600 T rest_init\n"
	"ffffffff81000700 T _etext\n";

#define A_START_KERNEL 0xffffffff81000100ull
#define A_INITCALL 0xffffffff81000200ull
#define A_CALLER 0xffffffff81000300ull
#define A_INIT_KPROBES 0xffffffff81000400ull
#define A_INIT_OTHER 0xffffffff81000500ull
#define A_REST_INIT 0xffffffff81000600ull

static struct ekp_symtab *st;

static struct ekp_probe *parse(const char *spec, uint64_t addr)
{
	struct ekp_probe *p = NULL;
	int err = ekp_probe_parse(spec, &ekp_arch_x86_64, &p, NULL);

	if (err)
		fail_msg("%s: %s", spec, ekp_errstr(err));
	p->addr = addr;
	p->resolved = true;
	return p;
}

/* ---- tracedat ---------------------------------------------------------------------------- */

struct readback {
	char lines[64][1024];
	uint64_t ts[64];
	unsigned int n;
	long long dropped;
};

static int on_record(struct tracecmd_input *h, struct tep_record *r, int cpu, void *data)
{
	struct readback *rb = data;
	struct tep_handle *tep = tracecmd_get_tep(h);
	struct trace_seq s;

	if (rb->n == 64)
		return -1;
	if (r->missed_events)
		rb->dropped = r->missed_events;
	trace_seq_init(&s);
	tep_print_event(tep, &s, r, "%s-%d [%03d] %s: %s", TEP_PRINT_COMM, TEP_PRINT_PID,
			TEP_PRINT_CPU, TEP_PRINT_NAME, TEP_PRINT_INFO);
	trace_seq_terminate(&s);
	snprintf(rb->lines[rb->n], sizeof(rb->lines[rb->n]), "%s", s.buffer);
	rb->ts[rb->n++] = r->ts;
	trace_seq_destroy(&s);
	return 0;
}

/* What the text format says of ev, as trace-cmd report lays it out: comm-pid [cpu] event:
 * values (the unknown task is pid -1 in a trace.dat). */
static void expected(const struct ekp_event *ev, char *out, size_t size)
{
	struct ekp_buf b = { 0 };
	const char *info, *comm;
	char task[64];

	assert_int_equal(ekp_format_text(&b, ev, st), 0);
	info = strstr(b.data, ": ");
	assert_non_null(info);
	info = strstr(info + 2, ": ") + 2; /* after "GRP/EVENT: " */
	b.data[b.len - 1] = '\0'; /* the newline */
	comm = b.data;
	while (*comm == ' ')
		comm++;
	snprintf(task, sizeof(task), "%.*s", (int)(strstr(comm, " [") - comm), comm);
	if (!ev->task.known)
		snprintf(task, sizeof(task), "<...>--1");
	else if (ev->task.idle)
		snprintf(task, sizeof(task), "<idle>-0");
	/* The text format pads "comm-pid"; trace-cmd's is unpadded here. */
	for (char *t = task + strlen(task); t > task && t[-1] == ' '; *--t = '\0')
		;
	snprintf(out, size, "%s [%03u] %s: %s", task, ev->cpu, ev->probe->event, info);
	ekp_buf_free(&b);
}

static void test_tracedat_matches_text(void **state)
{
	const char *path = t_tmp_path("boot.dat");
	struct ekp_probe *p[4];
	struct ekp_value vals0[9];
	struct ekp_event evs[12];
	unsigned int nev = 0;
	struct ekp_sink s;
	struct readback rb = { .n = 0 };
	struct tracecmd_input *h;
	int fd;

	(void)state;
	p[0] = parse("p:boot/start_kernel start_kernel cmd=+0(%di):string c=$comm "
		     "b=%si:s8 w=%si:s16 d=%si:s32 q=%si:s64 x=%si:x32 u=+0(%di):u16[3] "
		     "bf=%si:b3@4/32", A_START_KERNEL);
	p[1] = parse("p:initcall/start do_one_initcall fn=%di:symbol m=+0(%si):u64 "
		     "s=+0(%dx):string", A_INITCALL);
	p[2] = parse("r:initcall/end do_one_initcall ret=$retval:s32", A_INITCALL);
	p[3] = parse("p:boot/rest_init rest_init", A_REST_INIT);
	memset(vals0, 0, sizeof(vals0));
	for (int k = 0; k < 9; k++)
		vals0[k].count = 1;
	/* A string with a newline, a quote and a byte that is not UTF-8, cut. */
	snprintf(vals0[0].str, sizeof(vals0[0].str), "a \"b\"\nc\xff");
	vals0[0].str_truncated = true;
	snprintf(vals0[1].str, sizeof(vals0[1].str), "swapper");
	vals0[2].u[0] = 0xfe;               /* s8 -2 */
	vals0[3].u[0] = 0xfffe;             /* s16 -2 */
	vals0[4].u[0] = 0xfffffffe;         /* s32 -2 */
	vals0[5].u[0] = (uint64_t)-2;       /* s64 -2 */
	vals0[6].u[0] = 0xdeadbeef;
	vals0[7].count = 3;
	vals0[7].u[0] = 1, vals0[7].u[1] = 65535, vals0[7].u[2] = 0;
	vals0[8].u[0] = 5;
	evs[nev++] = (struct ekp_event){
		.probe = p[0], .probe_index = 0, .kind = EKP_PROBE_ENTRY, .addr = A_START_KERNEL,
		.hit_pc = A_START_KERNEL, .cpu = 0, .ts_ns = 1000000499, .engine = "trap",
		.task = { .known = true, .idle = true }, .nr_values = 9, .values = vals0,
	};
	/* Initcalls on two CPUs, one with a fault, times far apart (time extends), a symbol
	 * arg that no symbol covers. */
	static struct ekp_value iv[6][3], rv[6][1];
	static const uint64_t fns[6] = { A_INIT_KPROBES, A_INIT_OTHER, 0x1234, A_INIT_KPROBES + 3,
					 A_INIT_OTHER, A_INIT_KPROBES };
	uint64_t ts = 2000000000;

	for (unsigned int i = 0; i < 5; i++) {
		iv[i][0] = (struct ekp_value){ .count = 1, .u = { fns[i] } };
		iv[i][1] = (struct ekp_value){ .count = 1, .u = { 42 + i }, .err = i == 2 ? -EFAULT : 0 };
		iv[i][2] = (struct ekp_value){ .count = 1, .err = i == 2 || i == 4 ? -EFAULT : 0 };
		snprintf(iv[i][2].str, sizeof(iv[i][2].str), "s%u", i);
		rv[i][0] = (struct ekp_value){ .count = 1, .u = { i == 1 ? (uint64_t)-19 : 0 } };
		evs[nev++] = (struct ekp_event){
			.probe = p[1], .probe_index = 1, .kind = EKP_PROBE_ENTRY, .addr = A_INITCALL,
			.hit_pc = A_INITCALL, .cpu = i % 2, .ts_ns = ts, .engine = "trap",
			.task = { .known = true, .pid = 1, .comm = "swapper/0" }, .nr_values = 3,
			.values = iv[i],
		};
		ts += 1000 + (uint64_t)i * 400000000; /* up to 1.6 s: past 2^27 ns */
		evs[nev++] = (struct ekp_event){
			.probe = p[2], .probe_index = 2, .kind = EKP_PROBE_RETURN, .addr = A_INITCALL,
			.ret_addr = A_CALLER + 0x9d, .cpu = i % 2, .ts_ns = ts, .engine = "jump",
			.task = { .known = true, .pid = 1, .comm = "swapper/0" }, .nr_values = 1,
			.values = rv[i],
		};
		ts += 777;
	}
	evs[nev++] = (struct ekp_event){
		.probe = p[3], .probe_index = 3, .kind = EKP_PROBE_ENTRY, .addr = A_REST_INIT,
		.hit_pc = A_REST_INIT, .cpu = 1, .ts_ns = ts + 1, .engine = "trap",
		.task = { .known = false },
	};

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	ekp_sink_init(&s, EKP_FORMAT_TRACEDAT, fd, path, st);
	assert_int_equal(ekp_sink_probes(&s, p, 4), 0);
	for (unsigned int i = 0; i < nev; i++) {
		if (i == 7)
			assert_int_equal(ekp_sink_lost(&s, evs[i].ts_ns, 12), 0);
		assert_int_equal(ekp_sink_event(&s, &evs[i]), 0);
	}
	assert_int_equal(ekp_sink_finish(&s), 0);
	ekp_sink_fini(&s);
	close(fd);

	h = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	assert_non_null(h);
	assert_int_equal(tracecmd_iterate_events(h, NULL, 0, on_record, &rb), 0);
	tracecmd_close(h);
	assert_int_equal(rb.n, nev);
	for (unsigned int i = 0; i < nev; i++) {
		char want[1024];

		expected(&evs[i], want, sizeof(want));
		assert_string_equal(rb.lines[i], want);
		assert_int_equal(rb.ts[i], evs[i].ts_ns);
	}
	assert_int_equal(rb.dropped, 12);
	for (unsigned int i = 0; i < 4; i++)
		ekp_probe_free(p[i]);
}

/* Many events: many pages per CPU, read back in full. */
static void test_tracedat_many_pages(void **state)
{
	const char *path = t_tmp_path("many.dat");
	struct ekp_probe *p = parse("p:g/e start_kernel s=+0(%di):string", A_START_KERNEL);
	struct ekp_value v = { .count = 1 };
	struct ekp_sink s;
	struct tracecmd_input *h;
	unsigned long long n = 0;
	int fd;

	(void)state;
	memset(v.str, 'x', 200);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ekp_sink_init(&s, EKP_FORMAT_TRACEDAT, fd, path, st);
	assert_int_equal(ekp_sink_probes(&s, &p, 1), 0);
	for (unsigned int i = 0; i < 3000; i++) {
		struct ekp_event ev = {
			.probe = p, .kind = EKP_PROBE_ENTRY, .addr = A_START_KERNEL, .cpu = i % 3,
			.ts_ns = 1000ull * i, .task = { .known = true, .pid = 1 + i % 7, .comm = "t" },
			.nr_values = 1, .values = &v, .engine = "jump",
		};
		assert_int_equal(ekp_sink_event(&s, &ev), 0);
	}
	assert_int_equal(ekp_sink_finish(&s), 0);
	ekp_sink_fini(&s);
	close(fd);
	h = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	assert_non_null(h);
	for (int cpu = 0; cpu < 3; cpu++) {
		uint64_t last = 0;

		for (struct tep_record *r = tracecmd_read_cpu_first(h, cpu); r;
		     r = tracecmd_read_data(h, cpu)) {
			assert_true(r->ts >= last && r->ts % 3000 == 1000ull * (uint64_t)cpu);
			last = r->ts;
			n++;
			tracecmd_free_record(r);
		}
	}
	tracecmd_close(h);
	assert_int_equal(n, 3000);
	ekp_probe_free(p);
}

/* ---- perfetto ---------------------------------------------------------------------------- */

static json_t *load_doc(const char *path)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);

	if (!j)
		fail_msg("%s is not JSON: %s (line %d)", path, jerr.text, jerr.line);
	return j;
}

static unsigned int count_ph(json_t *doc, const char *ph, const char *name)
{
	json_t *evs = json_object_get(doc, "traceEvents"), *e;
	unsigned int n = 0;
	size_t i;

	json_array_foreach(evs, i, e) {
		const char *x = json_string_value(json_object_get(e, "ph"));
		const char *nm = json_string_value(json_object_get(e, "name"));

		n += x && !strcmp(x, ph) && (!name || (nm && !strcmp(nm, name)));
	}
	return n;
}

static struct ekp_event pev(struct ekp_probe *p, unsigned int idx, uint64_t ts,
			    struct ekp_value *v, unsigned int nv)
{
	return (struct ekp_event){
		.probe = p, .probe_index = idx, .kind = p->kind, .addr = p->addr,
		.hit_pc = p->addr, .ret_addr = A_CALLER + 0x9d, .cpu = 0, .ts_ns = ts,
		.engine = "trap", .task = { .known = true, .pid = 1, .comm = "swapper/0" },
		.nr_values = nv, .values = v,
	};
}

static void test_perfetto_document(void **state)
{
	const char *path = t_tmp_path("boot.json");
	struct ekp_probe *p[6];
	struct ekp_value fn[2] = { { .count = 1, .u = { A_INIT_KPROBES } },
				   { .count = 1, .u = { A_INIT_KPROBES } } };
	struct ekp_value ret = { .count = 1 };
	struct ekp_summary sum = { .end = "guest exited" };
	struct ekp_sink s;
	struct ekp_event e;
	json_t *doc, *evs, *x;
	size_t i;
	int fd;

	(void)state;
	p[0] = parse("p:boot/start_kernel start_kernel", A_START_KERNEL);
	p[1] = parse("p:initcall/start do_one_initcall fn=%di:symbol", A_INITCALL);
	p[2] = parse("r:initcall/end do_one_initcall ret=$retval:s32", A_INITCALL);
	p[3] = parse("p:boot/rest_init rest_init", A_REST_INIT);
	p[4] = parse("p:f/in init_other", A_INIT_OTHER);
	p[5] = parse("r:f/out init_other", A_INIT_OTHER);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ekp_sink_init(&s, EKP_FORMAT_PERFETTO, fd, path, st);
	assert_int_equal(ekp_sink_probes(&s, p, 6), 0);
	assert_int_equal(ekp_sink_flush(&s), 0);
	doc = load_doc(path); /* valid from the start */
	json_decref(doc);

	e = pev(p[0], 0, 100, NULL, 0);
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	e = pev(p[1], 1, 200, &fn[0], 1); /* init_kprobes: 200..900 */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	e = pev(p[4], 4, 300, NULL, 0);   /* nested: its return is missed */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	e = pev(p[2], 2, 900, &ret, 1);   /* closes both: init_other unfinished */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	assert_int_equal(ekp_sink_flush(&s), 0);
	doc = load_doc(path); /* valid after every flush */
	assert_int_equal(count_ph(doc, "B", "init_kprobes"), 1);
	assert_int_equal(count_ph(doc, "E", "init_other"), 1);
	json_decref(doc);

	e = pev(p[3], 3, 1000, NULL, 0);  /* a phase, and an instant */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	e = pev(p[1], 1, 1100, &fn[1], 1); /* never returns */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	assert_int_equal(ekp_sink_lost(&s, 1150, 7), 0);
	e = pev(p[2], 2, 1200, &ret, 1);
	e.task.pid = 2; /* another task's return: no open call there, an instant */
	assert_int_equal(ekp_sink_event(&s, &e), 0);
	assert_int_equal(ekp_sink_summary(&s, &sum), 0);
	assert_int_equal(ekp_sink_finish(&s), 0);
	ekp_sink_fini(&s);
	close(fd);

	doc = load_doc(path);
	evs = json_object_get(doc, "traceEvents");
	assert_true(json_array_size(evs) > 10);
	assert_non_null(json_object_get(doc, "summary"));
	assert_string_equal(json_string_value(json_object_get(doc, "displayTimeUnit")), "ns");
	assert_int_equal(count_ph(doc, "B", "init_kprobes"), 2);
	assert_int_equal(count_ph(doc, "E", "init_kprobes"), 2); /* the second ends with the trace */
	assert_int_equal(count_ph(doc, "B", "start_kernel"), 1); /* the phases track */
	assert_int_equal(count_ph(doc, "B", "rest_init"), 1);
	assert_int_equal(count_ph(doc, "E", "rest_init"), 1);    /* the last phase, at the end */
	assert_int_equal(count_ph(doc, "i", "initcall/end"), 1);
	assert_int_equal(count_ph(doc, "i", "boot/rest_init"), 1);
	assert_int_equal(count_ph(doc, "C", "lost records"), 2); /* 0 at the start, then 7 */
	/* Times: microseconds, exact to the nanosecond. The unfinished call ends with the call
	 * that encloses it, before it, and says so. */
	json_array_foreach(evs, i, x) {
		const char *ph = json_string_value(json_object_get(x, "ph"));
		const char *nm = json_string_value(json_object_get(x, "name"));
		double ts = json_real_value(json_object_get(x, "ts"));

		if (!ph || !nm || strcmp(ph, "E"))
			continue;
		if (!strcmp(nm, "init_other")) {
			assert_true(ts == 0.9);
			assert_true(json_is_false(json_object_get(json_object_get(x, "args"),
								  "returned")));
			assert_string_equal(json_string_value(json_object_get(
				json_array_get(evs, i + 1), "name")), "init_kprobes");
		}
		if (!strcmp(nm, "init_kprobes"))
			assert_true(ts == 0.9 || ts == 1.2);
	}
	json_decref(doc);
	for (unsigned int k = 0; k < 6; k++)
		ekp_probe_free(p[k]);
}

/* A write error part-way: the file is cut back to whole elements and still closes. */
static void test_perfetto_write_error(void **state)
{
	const char *path = t_tmp_path("limited.json");
	struct ekp_probe *p = parse("p:boot/start_kernel start_kernel", A_START_KERNEL);
	int pfd[2], status, err = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { .rlim_cur = 20000, .rlim_max = 20000 };
		struct ekp_sink s;
		int fd;

		signal(SIGXFSZ, SIG_IGN);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || setrlimit(RLIMIT_FSIZE, &rl))
			_exit(2);
		ekp_sink_init(&s, EKP_FORMAT_PERFETTO, fd, path, st);
		err = ekp_sink_probes(&s, &p, 1);
		for (unsigned int i = 0; i < 100000 && !err; i++) {
			struct ekp_event e = pev(p, 0, i, NULL, 0);

			e.task.pid = 1 + (int)i; /* a thread each: names, sort indexes */
			err = ekp_sink_event(&s, &e);
			if (!err && i % 50 == 0)
				err = ekp_sink_flush(&s);
		}
		if (!err)
			err = ekp_sink_finish(&s);
		_exit(write(pfd[1], &err, sizeof(err)) == sizeof(err) ? 0 : 3);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &err, sizeof(err)), sizeof(err));
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(err, -EFBIG);
	json_decref(load_doc(path));
	ekp_probe_free(p);
}

/* ---- the pairer ---------------------------------------------------------------------------- */

static unsigned int nr_unfinished;

static void count_unfinished(void *ctx, uint64_t task, const struct ekp_pair_frame *f)
{
	nr_unfinished++;
}

static void test_pairer(void **state)
{
	struct ekp_pairer p;
	struct ekp_pair_frame f;
	uint64_t t1 = ekp_pair_task(true, false, 1, 0), idle0 = ekp_pair_task(true, true, 0, 0),
		 idle1 = ekp_pair_task(true, true, 0, 1), unk = ekp_pair_task(false, false, 0, 0);

	(void)state;
	assert_true(t1 != idle0 && idle0 != idle1 && idle0 != unk);
	ekp_pair_init(&p);
	for (uint64_t i = 0; i < 1000; i++) /* many tasks: the table grows */
		assert_int_equal(ekp_pair_push(&p, ekp_pair_task(true, false, (int)i + 2, 0), 7,
					       i, (size_t)i), 0);
	assert_int_equal(ekp_pair_push(&p, t1, 10, 1, 100), 0);
	assert_int_equal(ekp_pair_push(&p, t1, 20, 2, 200), 0);
	assert_int_equal(ekp_pair_push(&p, t1, 10, 3, 300), 0); /* recursion */
	assert_int_equal(ekp_pair_push(&p, t1, 30, 4, 400), 0);
	assert_int_equal(ekp_pair_depth(&p, t1), 4);
	assert_int_equal(ekp_pair_pop(&p, idle0, 10, &f, count_unfinished, NULL), 0);
	assert_int_equal(ekp_pair_pop(&p, t1, 99, &f, count_unfinished, NULL), 0);
	assert_int_equal(ekp_pair_depth(&p, t1), 4); /* untouched */
	assert_int_equal(ekp_pair_pop(&p, t1, 10, &f, count_unfinished, NULL), 1);
	assert_int_equal(f.payload, 300);
	assert_int_equal(nr_unfinished, 1); /* the call of 30 */
	assert_int_equal(ekp_pair_pop(&p, t1, 10, &f, count_unfinished, NULL), 1);
	assert_int_equal(f.payload, 100);
	assert_int_equal(nr_unfinished, 2); /* and the call of 20 */
	assert_int_equal(ekp_pair_depth(&p, t1), 0);
	assert_int_equal(ekp_pair_pop(&p, ekp_pair_task(true, false, 501, 0), 7, &f, NULL, NULL), 1);
	assert_int_equal(f.payload, 499);
	nr_unfinished = 0;
	ekp_pair_drain(&p, count_unfinished, NULL);
	assert_int_equal(nr_unfinished, 999);
	assert_int_equal(p.open, 0);
	ekp_pair_fini(&p);
}

static int setup(void **state)
{
	(void)state;
	return ekp_symtab_load_mem(system_map, sizeof(system_map) - 1, false, &st) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	ekp_symtab_free(st);
	t_tmp_remove();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tracedat_matches_text),
		cmocka_unit_test(test_tracedat_many_pages),
		cmocka_unit_test(test_perfetto_document),
		cmocka_unit_test(test_perfetto_write_error),
		cmocka_unit_test(test_pairer),
	};

	tracecmd_set_loglevel(TEP_LOG_CRITICAL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
