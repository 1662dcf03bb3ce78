// SPDX-License-Identifier: GPL-2.0
/*
 * --format tracedat: trace-cmd's trace.dat, version 6 (trace-cmd.dat.v6(5)), which
 * `trace-cmd report`, KernelShark and libtracecmd read. Each probe is an event of its group
 * with the kernel's kprobe-event format:
 *
 *   name: p_start_kernel_0          system: the probe's GRP
 *   ID: 1000
 *   format:
 *   	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
 *   	... common_flags, common_preempt_count, common_pid
 *   	field:unsigned long __probe_ip;	offset:8;	size:8;	signed:0;   (return probes:
 *   	field:__data_loc char[] cmdline;	offset:16;	size:4;	signed:1;  __probe_func and
 *   print fmt: "(%ps) cmdline=\"%s\"", REC->__probe_ip, __get_str(cmdline)     __probe_ret_ip)
 *
 * fields packed as the kernel packs them (u8..u64 and s8..s64 by type, x types as u, symbol as
 * u64, bitfields as their container, TYPE[N] arrays, strings as __data_loc char[]), and a print
 * fmt whose output is the text format's, value for value:
 *
 * - addresses print with %ps through the file's kallsyms, which holds one entry per address
 *   printed, named with the text format's "sym+0xoff" (or "0x..." when no symbol covers it):
 *   libtraceevent's %ps prints an entry's name as is, so the symbol choice is ekprobe's;
 * - strings hold the text format's (escaped) text, with its "..." when cut;
 * - signed values print with the width of their type (%hhd %hd %d %lld);
 * - a fetch that faulted: the event is written under a variant of its format (same system and
 *   name, another ID) whose print fmt says "(fault)" for that argument; the field holds 0 or
 *   an empty string, as the kernel stores it.
 *
 * common_pid is the task's pid, 0 for idle tasks, -1 when unknown; the saved cmdlines map
 * every pid to the first comm seen for it. Timestamps are guest run time in ns (clock
 * "local"): trace-cmd prints them rounded to the microsecond, as the text format does. Each
 * vCPU is a CPU of the file; a loss the guest reported marks the next page of the next event's
 * CPU ("CPU:N [M EVENTS DROPPED]" in trace-cmd report).
 *
 * The per-CPU data must be contiguous and its size is in the header, so the trace is kept in
 * memory and the file written whole at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event-parse.h>

#include "ekprobe/err.h"
#include "host/sinks/ops.h"

#define TD_PAGE 4096u
#define TD_PAGE_HEAD 16u                    /* timestamp, commit */
#define TD_DATA (TD_PAGE - TD_PAGE_HEAD)    /* 4080 */
#define TD_MISSED_ROOM 8u                   /* a page that says how many were dropped */
#define TD_MAX_RECORD (TD_DATA - 8u - TD_MISSED_ROOM) /* header and length words */
#define TD_SMALL_MAX 112u                   /* RB_MAX_SMALL_DATA: type_len 1..28 */
#define TD_DELTA_BITS 27
#define TD_TYPE_TIME_EXTEND 30u
#define TD_MISSED_EVENTS (1ull << 31)
#define TD_MISSED_STORED (1ull << 30)
#define TD_FIRST_ID 1000u
#define TD_MAX_ID 65535u
#define TD_MAX_CPUS 8192u
#define TD_COMMON 8u                        /* type, flags, preempt_count, pid */

static const char header_page[] =
	"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
	"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
	"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
	"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

static const char header_event[] =
	"# compressed entry header\n"
	"\ttype_len    :    5 bits\n"
	"\ttime_delta  :   27 bits\n"
	"\tarray       :   32 bits\n"
	"\n"
	"\tpadding     : type == 29\n"
	"\ttime_extend : type == 30\n"
	"\ttime_stamp : type == 31\n"
	"\tdata max type_len  == 28\n";

static const char common_fields[] =
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

/* One probe's layout. */
struct td_probe {
	const struct ekp_probe *p;
	unsigned int id;         /* of its base format */
	unsigned int *offset;    /* per argument, in the record */
	unsigned int fixed;      /* bytes before the strings */
};

/* A format: a probe's base format, or a variant for a pattern of faulted arguments. */
struct td_format {
	unsigned int probe;
	unsigned int id;
	uint64_t *faulted;       /* bitmap over the probe's arguments, NULL for the base */
};

struct td_cpu {
	struct ekp_buf pages;    /* whole pages; the last is being filled */
	size_t used;             /* data bytes in the last page */
	uint64_t last_ts;        /* of the last event in the last page */
	bool open;               /* the last page takes more */
};

/* Address -> the text format's name for it ("sym+0x10", "0xffff..."). */
struct td_sym {
	uint64_t addr;
	char *name;              /* NULL: a free slot */
};

struct td_comm {
	int pid;
	char *comm;              /* NULL: a free slot */
};

struct tracedat {
	struct td_probe *probes;
	unsigned int nr_probes;
	struct td_format *formats;
	unsigned int nr_formats, cap_formats;
	unsigned int next_id;
	struct td_cpu *cpus;
	unsigned int nr_cpus;
	struct td_sym *syms;
	size_t syms_cap, syms_used;
	struct td_comm *comms;
	size_t comms_cap, comms_used;
	uint64_t missed;         /* records the guest dropped, not yet marked on a page */
	uint64_t lost_seen;
	struct ekp_buf rec;      /* the record being built */
};

static size_t hash_slot(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* ---- formats ------------------------------------------------------------------------------ */

static bool is_string(const struct ekp_arg *a)
{
	return ekp_value_is_string(a);
}

static unsigned int elem_size(const struct ekp_arg *a)
{
	return a->type.size ? a->type.size : 8;
}

static unsigned int field_size(const struct ekp_arg *a)
{
	if (is_string(a))
		return 4;
	return elem_size(a) * (a->type.array_len ? a->type.array_len : 1);
}

static const char *field_type(const struct ekp_arg *a)
{
	static const char *const u[] = { "u8", "u16", "u32", "u64" }, *const s[] = {
		"s8", "s16", "s32", "s64" };
	unsigned int sz = elem_size(a), i = sz == 1 ? 0 : sz == 2 ? 1 : sz == 4 ? 2 : 3;

	if (is_string(a))
		return "__data_loc char[]";
	return a->type.base == EKP_T_S ? s[i] : u[i];
}

/* The printf conversion of one element, as the text format shows it. */
static const char *conversion(const struct ekp_arg *a)
{
	switch (a->type.base) {
	case EKP_T_S:
		switch (elem_size(a)) {
		case 1: return "%hhd";
		case 2: return "%hd";
		case 4: return "%d";
		default: return "%lld";
		}
	case EKP_T_X:
		return "0x%llx";
	case EKP_T_SYMBOL:
		return "%ps";
	default:
		return "%llu";
	}
}

static bool bit(const uint64_t *map, unsigned int i)
{
	return map && (map[i / 64] >> (i % 64) & 1);
}

/* The format text of f, as the kernel's events/<sys>/<event>/format reads. */
static int format_text(const struct tracedat *td, const struct td_format *f, struct ekp_buf *out)
{
	const struct td_probe *tp = &td->probes[f->probe];
	const struct ekp_probe *p = tp->p;
	bool ret = p->kind == EKP_PROBE_RETURN;
	struct ekp_buf args = { 0 };
	int err;

	err = ekp_buf_printf(out, "name: %s\nID: %u\nformat:\n%s", p->event, f->id, common_fields);
	if (ret)
		err = err ?: ekp_buf_printf(out,
			"\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;\n"
			"\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;\n");
	else
		err = err ?: ekp_buf_printf(out,
			"\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n");
	for (unsigned int i = 0; !err && i < p->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];

		if (a->type.array_len && !is_string(a))
			err = ekp_buf_printf(out, "\tfield:%s %s[%u];\toffset:%u;\tsize:%u;\tsigned:%d;\n",
					     field_type(a), a->name, a->type.array_len, tp->offset[i],
					     field_size(a), a->type.base == EKP_T_S);
		else
			err = ekp_buf_printf(out, "\tfield:%s %s;\toffset:%u;\tsize:%u;\tsigned:%d;\n",
					     field_type(a), a->name, tp->offset[i], field_size(a),
					     is_string(a) || a->type.base == EKP_T_S);
	}
	err = err ?: ekp_buf_printf(out, "\nprint fmt: \"(%s)", ret ? "%ps <- %ps" : "%ps");
	err = err ?: ekp_buf_printf(&args, ret ? ", REC->__probe_ret_ip, REC->__probe_func"
					      : ", REC->__probe_ip");
	for (unsigned int i = 0; !err && i < p->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];

		err = ekp_buf_printf(out, " %s=", a->name);
		if (err)
			break;
		if (bit(f->faulted, i)) {
			err = ekp_buf_printf(out, "(fault)");
		} else if (is_string(a)) {
			err = ekp_buf_printf(out, "\\\"%%s\\\"");
			err = err ?: ekp_buf_printf(&args, ", __get_str(%s)", a->name);
		} else if (a->type.array_len) {
			for (unsigned int k = 0; !err && k < a->type.array_len; k++) {
				err = ekp_buf_printf(out, "%s%s", k ? "," : "{", conversion(a));
				err = err ?: ekp_buf_printf(&args, ", REC->%s[%u]", a->name, k);
			}
			err = err ?: ekp_buf_printf(out, "}");
		} else {
			err = ekp_buf_printf(out, "%s", conversion(a));
			err = err ?: ekp_buf_printf(&args, ", REC->%s", a->name);
		}
	}
	err = err ?: ekp_buf_printf(out, "\"%s\n", args.data ? args.data : "");
	ekp_buf_free(&args);
	return err;
}

/* libtraceevent, which trace-cmd reads the file with, must take every format as written. */
static int check_format(const struct tracedat *td, const struct td_format *f)
{
	const struct ekp_probe *p = td->probes[f->probe].p;
	struct tep_handle *tep = tep_alloc();
	struct ekp_buf text = { 0 };
	struct tep_event *ev = NULL;
	enum tep_errno e;
	int err;

	if (!tep)
		return ekp_err(ENOMEM, "out of memory");
	tep_set_long_size(tep, 8);
	tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN);
	err = format_text(td, f, &text);
	if (err) {
		tep_free(tep);
		return ekp_err(-err, "out of memory");
	}
	e = tep_parse_format(tep, &ev, text.data, text.len, p->group);
	if (e) {
		char why[128];

		tep_strerror(tep, e, why, sizeof(why));
		err = ekp_err(EINVAL, "%s/%s: libtraceevent does not take its trace.dat format "
			      "(%s):\n%s", p->group, p->event, why, text.data);
	}
	ekp_buf_free(&text);
	tep_free(tep);
	return err;
}

static int add_format(struct tracedat *td, unsigned int probe, uint64_t *faulted)
{
	struct td_format *f;

	if (td->nr_formats == td->cap_formats) {
		unsigned int cap = td->cap_formats ? td->cap_formats * 2 : 16;

		f = realloc(td->formats, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		td->formats = f;
		td->cap_formats = cap;
	}
	td->formats[td->nr_formats++] = (struct td_format){
		.probe = probe, .id = td->next_id++, .faulted = faulted,
	};
	return 0;
}

static int td_probes(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n)
{
	struct tracedat *td = s->priv;
	int err;

	if (td)
		return ekp_err(EBUSY, "the trace.dat probes are set already");
	if (n > TD_MAX_ID - TD_FIRST_ID)
		return ekp_err(E2BIG, "%u probes: a trace.dat holds at most %u events", n,
			       TD_MAX_ID - TD_FIRST_ID);
	td = calloc(1, sizeof(*td));
	if (!td)
		return ekp_err(ENOMEM, "out of memory");
	s->priv = td;
	td->next_id = TD_FIRST_ID;
	td->probes = calloc(n ? n : 1, sizeof(*td->probes));
	if (!td->probes)
		return ekp_err(ENOMEM, "out of memory");
	td->nr_probes = n;
	for (unsigned int i = 0; i < n; i++) {
		struct td_probe *tp = &td->probes[i];
		unsigned int off = TD_COMMON + (probes[i]->kind == EKP_PROBE_RETURN ? 16 : 8);

		tp->p = probes[i];
		tp->offset = calloc(probes[i]->nr_args ? probes[i]->nr_args : 1, sizeof(unsigned int));
		if (!tp->offset || add_format(td, i, NULL))
			return ekp_err(ENOMEM, "out of memory");
		tp->id = td->formats[i].id;
		for (unsigned int a = 0; a < probes[i]->nr_args; a++) {
			tp->offset[a] = off;
			off += field_size(&probes[i]->args[a]);
		}
		tp->fixed = off;
		if (off > TD_MAX_RECORD)
			return ekp_err(E2BIG, "%s/%s: its fields take %u bytes, more than a trace.dat "
				       "page holds (%u)", probes[i]->group, probes[i]->event, off,
				       TD_MAX_RECORD);
		err = check_format(td, &td->formats[i]);
		if (err)
			return err;
	}
	return 0;
}

/* The format for probe i with these faulted arguments: the base one, or a variant made now. */
static int format_for(struct tracedat *td, unsigned int i, const struct ekp_event *ev,
		      unsigned int *id)
{
	const struct ekp_probe *p = td->probes[i].p;
	size_t words = (p->nr_args + 63) / 64;
	uint64_t *map = NULL;
	bool any = false;
	int err;

	*id = td->probes[i].id;
	for (unsigned int a = 0; a < ev->nr_values && a < p->nr_args; a++)
		any |= ev->values[a].err != 0;
	if (!any)
		return 0;
	map = calloc(words, sizeof(*map));
	if (!map)
		return ekp_err(ENOMEM, "out of memory");
	for (unsigned int a = 0; a < ev->nr_values && a < p->nr_args; a++)
		if (ev->values[a].err)
			map[a / 64] |= 1ull << (a % 64);
	for (unsigned int f = 0; f < td->nr_formats; f++) {
		if (td->formats[f].probe == i && td->formats[f].faulted &&
		    !memcmp(td->formats[f].faulted, map, words * sizeof(*map))) {
			*id = td->formats[f].id;
			free(map);
			return 0;
		}
	}
	if (td->next_id > TD_MAX_ID) {
		/* Out of IDs: the base format shows the stored 0 or "". */
		free(map);
		return 0;
	}
	if (add_format(td, i, map)) {
		free(map);
		return ekp_err(ENOMEM, "out of memory");
	}
	err = check_format(td, &td->formats[td->nr_formats - 1]);
	if (err)
		return err;
	*id = td->formats[td->nr_formats - 1].id;
	return 0;
}

/* ---- names: kallsyms and cmdlines -------------------------------------------------------- */

/* The kallsyms entry for addr: its name in the text format, with no space in it (a kallsyms
 * line is split at spaces). */
static int remember_sym(struct ekp_sink *s, uint64_t addr)
{
	struct tracedat *td = s->priv;
	struct ekp_buf name = { 0 };
	size_t i;
	int err;

	if ((td->syms_used + 1) * 2 > td->syms_cap) {
		size_t cap = td->syms_cap ? td->syms_cap * 2 : 256;
		struct td_sym *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return ekp_err(ENOMEM, "out of memory");
		for (size_t k = 0; k < td->syms_cap; k++) {
			if (!td->syms[k].name)
				continue;
			for (i = hash_slot(td->syms[k].addr, cap); tab[i].name; i = (i + 1) & (cap - 1))
				;
			tab[i] = td->syms[k];
		}
		free(td->syms);
		td->syms = tab;
		td->syms_cap = cap;
	}
	for (i = hash_slot(addr, td->syms_cap); td->syms[i].name; i = (i + 1) & (td->syms_cap - 1))
		if (td->syms[i].addr == addr)
			return 0;
	err = ekp_format_sym(&name, s->st, addr);
	for (size_t k = 0; !err && k < name.len; k++) {
		if (name.data[k] == ' ') { /* "\x20", as the escapes write other bytes */
			struct ekp_buf esc = { 0 };

			err = ekp_buf_append(&esc, name.data, k);
			err = err ?: ekp_buf_printf(&esc, "\\x20%s", name.data + k + 1);
			ekp_buf_free(&name);
			name = esc;
		}
	}
	if (err) {
		ekp_buf_free(&name);
		return ekp_err(-err, "out of memory");
	}
	td->syms[i] = (struct td_sym){ .addr = addr, .name = name.data };
	td->syms_used++;
	return 0;
}

static int remember_comm(struct tracedat *td, const struct ekp_task *t)
{
	struct ekp_buf comm = { 0 };
	size_t i;
	int err;

	if (!t->known || t->idle)
		return 0;
	if ((td->comms_used + 1) * 2 > td->comms_cap) {
		size_t cap = td->comms_cap ? td->comms_cap * 2 : 64;
		struct td_comm *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return ekp_err(ENOMEM, "out of memory");
		for (size_t k = 0; k < td->comms_cap; k++) {
			if (!td->comms[k].comm)
				continue;
			for (i = hash_slot((uint32_t)td->comms[k].pid, cap); tab[i].comm;
			     i = (i + 1) & (cap - 1))
				;
			tab[i] = td->comms[k];
		}
		free(td->comms);
		td->comms = tab;
		td->comms_cap = cap;
	}
	for (i = hash_slot((uint32_t)t->pid, td->comms_cap); td->comms[i].comm;
	     i = (i + 1) & (td->comms_cap - 1))
		if (td->comms[i].pid == t->pid)
			return 0;
	err = ekp_format_escaped(&comm, t->comm);
	if (!err && !comm.data)
		err = ekp_buf_printf(&comm, "%s", "");
	if (err) {
		ekp_buf_free(&comm);
		return ekp_err(-err, "out of memory");
	}
	td->comms[i] = (struct td_comm){ .pid = t->pid, .comm = comm.data };
	td->comms_used++;
	return 0;
}

/* ---- records and pages ------------------------------------------------------------------- */

static void put(struct ekp_buf *b, unsigned int off, uint64_t v, unsigned int size)
{
	for (unsigned int k = 0; k < size; k++)
		b->data[off + k] = (char)(v >> (8 * k));
}

/*
 * The record of ev under format id in td->rec. Strings longer than the page allows are cut,
 * longest first, and end in "...".
 */
static int build_record(struct ekp_sink *s, const struct td_probe *tp, unsigned int id,
			const struct ekp_event *ev)
{
	struct tracedat *td = s->priv;
	const struct ekp_probe *p = tp->p;
	struct ekp_buf *strs = NULL;
	unsigned int n = p->nr_args, total;
	int err = 0, pid = !ev->task.known ? -1 : ev->task.idle ? 0 : ev->task.pid;

	ekp_buf_reset(&td->rec);
	err = ekp_buf_reserve(&td->rec, tp->fixed);
	if (err)
		return ekp_err(ENOMEM, "out of memory");
	memset(td->rec.data, 0, tp->fixed);
	td->rec.len = tp->fixed;
	put(&td->rec, 0, id, 2);
	put(&td->rec, 4, (uint32_t)pid, 4);
	if (ev->kind == EKP_PROBE_RETURN) {
		put(&td->rec, 8, ev->addr, 8);
		put(&td->rec, 16, ev->ret_addr, 8);
		err = remember_sym(s, ev->addr) ?: remember_sym(s, ev->ret_addr);
	} else {
		put(&td->rec, 8, ev->addr, 8);
		err = remember_sym(s, ev->addr);
	}
	if (err)
		return err;
	strs = calloc(n ? n : 1, sizeof(*strs));
	if (!strs)
		return ekp_err(ENOMEM, "out of memory");
	total = tp->fixed;
	for (unsigned int i = 0; !err && i < n && i < ev->nr_values; i++) {
		const struct ekp_arg *a = &p->args[i];
		const struct ekp_value *v = &ev->values[i];
		unsigned int es = elem_size(a);

		if (is_string(a)) {
			if (!v->err) {
				err = ekp_format_escaped(&strs[i], v->str);
				if (!err && v->str_truncated)
					err = ekp_buf_printf(&strs[i], "...");
			}
			total += (unsigned int)strs[i].len + 1;
			continue;
		}
		if (v->err)
			continue; /* 0, as the kernel leaves it */
		for (unsigned int k = 0; k < (a->type.array_len ? a->type.array_len : 1) &&
					 k < v->count; k++) {
			put(&td->rec, tp->offset[i] + k * es, v->u[k], es);
			if (a->type.base == EKP_T_SYMBOL)
				err = err ?: remember_sym(s, v->u[k]);
		}
	}
	/* Cut the longest string until the record fits a page. */
	while (!err && total > TD_MAX_RECORD) {
		unsigned int longest = 0, cut;

		for (unsigned int i = 1; i < n; i++)
			if (strs[i].len > strs[longest].len)
				longest = i;
		cut = total - TD_MAX_RECORD + 3;
		if (strs[longest].len < cut + 3) {
			err = -E2BIG;
			break;
		}
		strs[longest].len -= cut;
		memcpy(strs[longest].data + strs[longest].len - 3, "...", 4);
		total -= cut;
	}
	for (unsigned int i = 0; !err && i < n; i++) {
		if (!is_string(&p->args[i]))
			continue;
		put(&td->rec, tp->offset[i], (uint32_t)td->rec.len | (uint32_t)(strs[i].len + 1) << 16, 4);
		err = ekp_buf_append(&td->rec, strs[i].data ? strs[i].data : "", strs[i].len);
		err = err ?: ekp_buf_append(&td->rec, "", 1);
	}
	for (unsigned int i = 0; i < n; i++)
		ekp_buf_free(&strs[i]);
	free(strs);
	if (err)
		return ekp_err(-err, "%s/%s: a record too big for a trace.dat page", p->group,
			       p->event);
	return 0;
}

static struct td_cpu *cpu_of(struct tracedat *td, unsigned int cpu)
{
	if (cpu >= td->nr_cpus) {
		struct td_cpu *c = realloc(td->cpus, (size_t)(cpu + 1) * sizeof(*c));

		if (!c)
			return NULL;
		memset(c + td->nr_cpus, 0, (size_t)(cpu + 1 - td->nr_cpus) * sizeof(*c));
		td->cpus = c;
		td->nr_cpus = cpu + 1;
	}
	return &td->cpus[cpu];
}

/* The last page's commit word: bytes used, and whether it says events were dropped. */
static char *last_page(struct td_cpu *c)
{
	return c->pages.data + c->pages.len - TD_PAGE;
}

static int new_page(struct td_cpu *c, uint64_t ts, uint64_t missed)
{
	char zero[TD_PAGE] = { 0 };
	struct ekp_buf *b = &c->pages;
	int err = ekp_buf_append(b, zero, sizeof(zero));

	if (err)
		return err;
	put(b, (unsigned int)(b->len - TD_PAGE), ts, 8);
	c->used = 0;
	c->last_ts = ts;
	c->open = true;
	if (missed) {
		/* The count goes after the data when the page is closed. */
		put(b, (unsigned int)(b->len - TD_PAGE + 8), TD_MISSED_EVENTS | TD_MISSED_STORED, 8);
		put(b, (unsigned int)(b->len - 8), missed, 8); /* kept at the end meanwhile */
	}
	return 0;
}

/* The last page is full (or the run ended): its commit, and the dropped count after the data. */
static void close_page(struct td_cpu *c)
{
	char *pg;
	uint64_t flags = 0, missed = 0;

	if (!c->open)
		return;
	pg = last_page(c);
	for (int k = 7; k >= 0; k--)
		flags = flags << 8 | (uint8_t)pg[8 + k];
	if (flags & TD_MISSED_EVENTS) {
		for (int k = 7; k >= 0; k--)
			missed = missed << 8 | (uint8_t)pg[TD_PAGE - 8 + k];
		memset(pg + TD_PAGE - 8, 0, 8);
		for (unsigned int k = 0; k < 8; k++)
			pg[TD_PAGE_HEAD + c->used + k] = (char)(missed >> (8 * k));
	}
	flags = (flags & (TD_MISSED_EVENTS | TD_MISSED_STORED)) | c->used;
	for (unsigned int k = 0; k < 8; k++)
		pg[8 + k] = (char)(flags >> (8 * k));
	c->open = false;
}

/* Append the record in td->rec at ts to cpu's pages, in the ring buffer's event format. */
static int append(struct tracedat *td, unsigned int cpu, uint64_t ts)
{
	struct td_cpu *c = cpu_of(td, cpu);
	unsigned int len = (unsigned int)((td->rec.len + 3) & ~(size_t)3), need;
	uint64_t delta;
	uint32_t w;
	char *at;
	int err;

	if (!c)
		return -ENOMEM;
	need = 4 + (len > TD_SMALL_MAX ? 4 : 0) + len;
	delta = c->open && ts >= c->last_ts ? ts - c->last_ts : 0;
	if (delta >> TD_DELTA_BITS)
		need += 8;
	/* A new page: none yet, no room, time went back (the page's stamp is absolute), or a
	 * loss to mark. */
	if (!c->open || ts < c->last_ts || td->missed ||
	    c->used + need > TD_DATA - TD_MISSED_ROOM) {
		close_page(c);
		err = new_page(c, ts, td->missed);
		if (err)
			return err;
		td->missed = 0;
		delta = 0;
		need = 4 + (len > TD_SMALL_MAX ? 4 : 0) + len;
	}
	at = last_page(c) + TD_PAGE_HEAD + c->used;
	if (delta >> TD_DELTA_BITS) {
		w = TD_TYPE_TIME_EXTEND | (uint32_t)(delta & ((1u << TD_DELTA_BITS) - 1)) << 5;
		memcpy(at, &w, 4);
		w = (uint32_t)(delta >> TD_DELTA_BITS);
		memcpy(at + 4, &w, 4);
		at += 8;
		c->used += 8;
		delta = 0;
	}
	if (len > TD_SMALL_MAX) {
		w = (uint32_t)delta << 5;
		memcpy(at, &w, 4);
		w = len + 4;
		memcpy(at + 4, &w, 4);
		at += 8;
		c->used += 8;
	} else {
		w = len / 4 | (uint32_t)delta << 5;
		memcpy(at, &w, 4);
		at += 4;
		c->used += 4;
	}
	memset(at, 0, len);
	memcpy(at, td->rec.data, td->rec.len);
	c->used += len;
	c->last_ts = ts;
	return 0;
}

static int td_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	struct tracedat *td = s->priv;
	unsigned int id;
	int err;

	if (!td || ev->probe_index >= td->nr_probes || td->probes[ev->probe_index].p != ev->probe)
		return ekp_err(EINVAL, "trace.dat: an event of a probe it was not given");
	if (ev->cpu >= TD_MAX_CPUS)
		return ekp_err(ERANGE, "trace.dat: an event on CPU %u (at most %u CPUs)", ev->cpu,
			       TD_MAX_CPUS);
	err = format_for(td, ev->probe_index, ev, &id);
	err = err ?: build_record(s, &td->probes[ev->probe_index], id, ev);
	err = err ?: remember_comm(td, &ev->task);
	if (err)
		return err;
	err = append(td, ev->cpu, ev->ts_ns);
	return err ? ekp_err(-err, "out of memory") : 0;
}

static int td_lost(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost)
{
	struct tracedat *td = s->priv;

	if (td && lost > td->lost_seen) {
		td->missed += lost - td->lost_seen;
		td->lost_seen = lost;
	}
	return 0;
}

/* ---- the file ---------------------------------------------------------------------------- */

static int put_u32(struct ekp_buf *b, uint32_t v)
{
	return ekp_buf_append(b, &v, 4); /* little endian: the file says so */
}

static int put_u64(struct ekp_buf *b, uint64_t v)
{
	return ekp_buf_append(b, &v, 8);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct td_sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int comm_cmp(const void *a, const void *b)
{
	const struct td_comm *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Event formats, system by system in the order the groups first appear. */
static int put_systems(const struct tracedat *td, struct ekp_buf *out)
{
	unsigned int nsys = 0;
	int err = 0;
	bool *done = calloc(td->nr_probes ? td->nr_probes : 1, sizeof(*done));

	if (!done)
		return -ENOMEM;
	for (unsigned int i = 0; i < td->nr_probes; i++) {
		bool first = true;

		for (unsigned int j = 0; j < i && first; j++)
			first = strcmp(td->probes[j].p->group, td->probes[i].p->group) != 0;
		nsys += first;
	}
	err = put_u32(out, nsys);
	for (unsigned int i = 0; !err && i < td->nr_probes; i++) {
		const char *group = td->probes[i].p->group;
		unsigned int count = 0;

		if (done[i])
			continue;
		for (unsigned int f = 0; f < td->nr_formats; f++)
			count += !strcmp(td->probes[td->formats[f].probe].p->group, group);
		err = ekp_buf_append(out, group, strlen(group) + 1);
		err = err ?: put_u32(out, count);
		for (unsigned int f = 0; !err && f < td->nr_formats; f++) {
			struct ekp_buf text = { 0 };

			if (strcmp(td->probes[td->formats[f].probe].p->group, group))
				continue;
			done[td->formats[f].probe] = true;
			err = format_text(td, &td->formats[f], &text);
			err = err ?: put_u64(out, text.len);
			err = err ?: ekp_buf_append(out, text.data, text.len);
			ekp_buf_free(&text);
		}
	}
	free(done);
	return err;
}

static int put_kallsyms(struct tracedat *td, struct ekp_buf *out)
{
	struct ekp_buf text = { 0 };
	size_t n = 0;
	int err = 0;

	/* Packed and sorted, as /proc/kallsyms lists by address. */
	for (size_t i = 0; i < td->syms_cap; i++)
		if (td->syms[i].name)
			td->syms[n++] = td->syms[i];
	for (size_t i = n; i < td->syms_cap; i++)
		td->syms[i] = (struct td_sym){ 0 };
	if (n)
		qsort(td->syms, n, sizeof(*td->syms), sym_cmp);
	td->syms_used = n;
	for (size_t i = 0; !err && i < n; i++)
		err = ekp_buf_printf(&text, "%016" PRIx64 " t %s\n", td->syms[i].addr,
				     td->syms[i].name);
	/* Only lookups by address follow (the table is no hash any more). */
	td->syms_cap = n;
	err = err ?: put_u32(out, (uint32_t)text.len);
	err = err ?: ekp_buf_append(out, text.data ? text.data : "", text.len);
	ekp_buf_free(&text);
	return err;
}

static int put_cmdlines(struct tracedat *td, struct ekp_buf *out)
{
	struct ekp_buf text = { 0 };
	size_t n = 0;
	int err = 0;

	for (size_t i = 0; i < td->comms_cap; i++)
		if (td->comms[i].comm)
			td->comms[n++] = td->comms[i];
	for (size_t i = n; i < td->comms_cap; i++)
		td->comms[i] = (struct td_comm){ 0 };
	if (n)
		qsort(td->comms, n, sizeof(*td->comms), comm_cmp);
	td->comms_cap = n;
	for (size_t i = 0; !err && i < n; i++)
		err = ekp_buf_printf(&text, "%d %s\n", td->comms[i].pid, td->comms[i].comm);
	err = err ?: put_u64(out, text.len);
	err = err ?: ekp_buf_append(out, text.data ? text.data : "", text.len);
	ekp_buf_free(&text);
	return err;
}

static int td_finish(struct ekp_sink *s)
{
	struct tracedat *td = s->priv;
	struct ekp_buf *out = &s->pending;
	static const char clock[] = "[local]\n";
	size_t start = out->len, table, first_page;
	unsigned int ncpu;
	int err;

	if (!td) /* no probes given: an empty trace */
		err = td_probes(s, NULL, 0);
	else
		err = 0;
	if (err)
		return err;
	td = s->priv;
	for (unsigned int c = 0; c < td->nr_cpus; c++)
		close_page(&td->cpus[c]);
	ncpu = td->nr_cpus ? td->nr_cpus : 1;
	err = ekp_buf_append(out, "\027\010\104tracing6", 11);
	err = err ?: ekp_buf_append(out, "\0\0\010", 3); /* version's NUL, little endian, long 8 */
	err = err ?: put_u32(out, TD_PAGE);
	err = err ?: ekp_buf_append(out, "header_page", 12);
	err = err ?: put_u64(out, sizeof(header_page) - 1);
	err = err ?: ekp_buf_append(out, header_page, sizeof(header_page) - 1);
	err = err ?: ekp_buf_append(out, "header_event", 13);
	err = err ?: put_u64(out, sizeof(header_event) - 1);
	err = err ?: ekp_buf_append(out, header_event, sizeof(header_event) - 1);
	err = err ?: put_u32(out, 0); /* ftrace's own events */
	err = err ?: put_systems(td, out);
	err = err ?: put_kallsyms(td, out);
	err = err ?: put_u32(out, 0); /* trace_printk formats */
	err = err ?: put_cmdlines(td, out);
	err = err ?: put_u32(out, ncpu);
	err = err ?: ekp_buf_append(out, "options  ", 10);
	err = err ?: ekp_buf_append(out, "\4\0", 2); /* TRACECMD_OPTION_TRACECLOCK */
	err = err ?: put_u32(out, sizeof(clock) - 1);
	err = err ?: ekp_buf_append(out, clock, sizeof(clock) - 1);
	err = err ?: ekp_buf_append(out, "\0\0", 2); /* the end of the options */
	err = err ?: ekp_buf_append(out, "flyrecord", 10);
	table = out->len;
	for (unsigned int c = 0; !err && c < ncpu; c++)
		err = put_u64(out, 0) ?: put_u64(out, 0);
	if (!err) {
		size_t pad = (TD_PAGE - (out->len - start) % TD_PAGE) % TD_PAGE;

		err = ekp_buf_reserve(out, pad);
		if (!err) {
			memset(out->data + out->len, 0, pad);
			out->len += pad;
		}
	}
	first_page = out->len;
	for (unsigned int c = 0; !err && c < ncpu; c++) {
		uint64_t off = out->len - start, size = c < td->nr_cpus ? td->cpus[c].pages.len : 0;

		memcpy(out->data + table + 16 * c, &off, 8);
		memcpy(out->data + table + 16 * c + 8, &size, 8);
		if (size)
			err = ekp_buf_append(out, td->cpus[c].pages.data, size);
	}
	(void)first_page;
	return ekp_sink_commit(s, start, err);
}

static void td_fini(struct ekp_sink *s)
{
	struct tracedat *td = s->priv;

	if (!td)
		return;
	for (unsigned int i = 0; i < td->nr_probes; i++)
		free(td->probes[i].offset);
	free(td->probes);
	for (unsigned int f = 0; f < td->nr_formats; f++)
		free(td->formats[f].faulted);
	free(td->formats);
	for (unsigned int c = 0; c < td->nr_cpus; c++)
		ekp_buf_free(&td->cpus[c].pages);
	free(td->cpus);
	for (size_t i = 0; i < td->syms_cap; i++)
		free(td->syms[i].name);
	free(td->syms);
	for (size_t i = 0; i < td->comms_cap; i++)
		free(td->comms[i].comm);
	free(td->comms);
	ekp_buf_free(&td->rec);
	free(td);
	s->priv = NULL;
}

const struct ekp_sink_ops ekp_sink_tracedat_ops = {
	.probes = td_probes,
	.event = td_event,
	.lost = td_lost,
	.finish = td_finish,
	.fini = td_fini,
};
