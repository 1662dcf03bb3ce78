// SPDX-License-Identifier: GPL-2.0
/*
 * The stock-kernel handoff's preparation (host/handoff/handoff.h, docs/handoff.md): the
 * `kprobe_event=` definitions on the kernel command line, and where in the kernel they go
 * live. Linux 6.1, kernel/trace/trace_kprobe.c: `kprobe_event=` is copied into
 * kprobe_boot_events_buf (COMMAND_LINE_SIZE); the fs_initcall init_kprobe_trace() creates
 * each definition (commas become spaces, ';' separates them) and then
 * enable_boot_kprobe_events() enables them, one trace_event_enable_disable(file, 1, 0) call
 * each, under event_mutex.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/handoff/handoff.h"

/* What must be in the kernel for the stock handoff, and why. */
static const struct {
	const char *sym, *why;
} required[] = {
	{ "register_kprobe", "kprobes (CONFIG_KPROBES)" },
	{ "kprobe_boot_events_buf", "kprobe events with kprobe_event= (CONFIG_KPROBE_EVENTS)" },
	{ "init_kprobe_trace", "kprobe events with kprobe_event= (CONFIG_KPROBE_EVENTS)" },
	{ "trace_event_enable_disable", "trace events (CONFIG_TRACING)" },
	{ "kallsyms_lookup_name", "kallsyms, to find the probed symbols (CONFIG_KALLSYMS)" },
};

/* Text ranges kprobes refuse whatever the symbol (6.1 kernel/kprobes.c
 * populate_kprobe_blacklist, arch_within_kprobe_blacklist; x86 arch_populate_kprobe_blacklist). */
static const struct {
	const char *start, *end, *what;
} refused_ranges[] = {
	{ "__kprobes_text_start", "__kprobes_text_end", ".kprobes.text" },
	{ "__noinstr_text_start", "__noinstr_text_end", ".noinstr.text" },
	{ "__entry_text_start", "__entry_text_end", ".entry.text" },
	{ "__irqentry_text_start", "__irqentry_text_end", ".irqentry.text" },
	{ "__softirqentry_text_start", "__softirqentry_text_end", ".softirqentry.text" },
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int ekp_handoff_boot_def(struct ekp_buf *out, const struct ekp_probe *p)
{
	const char *t = p->text, *w;
	size_t start = out->len;
	int err;

	if (!t)
		return ekp_err(EINVAL, "%s/%s: no probe text", p->group, p->event);
	if (p->module)
		return ekp_err(EINVAL, "%s/%s: a MOD: prefix: the kernel resolves modules' symbols "
			       "only once they are loaded", p->group, p->event);
	for (const char *c = t; *c; c++) {
		if (*c == ',' || *c == ';' || *c == '"')
			return ekp_err(EINVAL, "%s/%s: kprobe_event= cannot carry '%c' (the kernel "
				       "turns ',' into a space, splits definitions at ';' and its "
				       "command line treats '\"' as a quote)", p->group, p->event, *c);
		if (!is_space(*c) && (*c < 0x21 || *c > 0x7e))
			return ekp_err(EINVAL, "%s/%s: kprobe_event= carries printable ASCII only "
				       "(byte 0x%02x)", p->group, p->event, (unsigned char)*c);
	}
	/* The first word is "p[:...]" or "r[N][:...]": written again with the name explicit. */
	while (is_space(*t))
		t++;
	w = t;
	while (*t && !is_space(*t))
		t++;
	if (w == t || (*w != 'p' && *w != 'r'))
		return ekp_err(EINVAL, "%s/%s: not a p or r probe", p->group, p->event);
	if (p->kind == EKP_PROBE_RETURN && p->maxactive)
		err = ekp_buf_printf(out, "r%u:%s/%s", p->maxactive, p->group, p->event);
	else
		err = ekp_buf_printf(out, "%c:%s/%s", p->kind == EKP_PROBE_RETURN ? 'r' : 'p',
				     p->group, p->event);
	while (!err) {
		while (is_space(*t))
			t++;
		if (!*t)
			break;
		w = t;
		while (*t && !is_space(*t))
			t++;
		err = ekp_buf_append(out, ",", 1) ?: ekp_buf_append(out, w, (size_t)(t - w));
	}
	if (err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return ekp_err(-err, "out of memory");
	}
	return 0;
}

int ekp_handoff_kprobe_allowed(const struct ekp_symtab *st, const struct ekp_probe *p)
{
	struct ekp_sym sym, a, b;
	char kbl[EKP_MAX_NAME + 16];

	if (p->sym) {
		snprintf(kbl, sizeof(kbl), "_kbl_addr_%s", p->sym);
		if (strlen(p->sym) < EKP_MAX_NAME && !ekp_symtab_lookup(st, kbl, &sym))
			return ekp_err(EPERM, "%s/%s: %s is on the kernel's kprobe blacklist "
				       "(NOKPROBE_SYMBOL)", p->group, p->event, p->sym);
	}
	for (size_t i = 0; i < EKP_ARRAY_SIZE(refused_ranges); i++) {
		if (ekp_symtab_lookup(st, refused_ranges[i].start, &a) ||
		    ekp_symtab_lookup(st, refused_ranges[i].end, &b))
			continue;
		if (p->addr >= a.addr && p->addr < b.addr)
			return ekp_err(EPERM, "%s/%s: in %s, which kprobes never probe", p->group,
				       p->event, refused_ranges[i].what);
	}
	return 0;
}

/* The user's -append (the last one, as QEMU takes it), or NULL. */
static const char *user_append(char *const *argv, bool *has_kernel)
{
	const char *v = NULL;

	*has_kernel = false;
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] == '-')
			a++;
		if (!argv[i + 1])
			break;
		if (!strcmp(a, "-append"))
			v = argv[++i];
		else if (!strcmp(a, "-kernel"))
			*has_kernel = true, i++;
	}
	return v;
}

/* Whether the command line has a parameter named name (a word "name=..." or "name"). */
static bool cmdline_has(const char *cmdline, const char *name)
{
	size_t n = strlen(name);

	for (const char *c = cmdline; c && (c = strstr(c, name)); c += n)
		if ((c == cmdline || is_space(c[-1])) && (c[n] == '=' || !c[n] || is_space(c[n])))
			return true;
	return false;
}

void ekp_handoff_free(struct ekp_handoff *h)
{
	free(h->handed);
	free(h->append);
	memset(h, 0, sizeof(*h));
}

int ekp_handoff_prepare(const struct ekp_handoff_config *cfg, struct ekp_handoff *h)
{
	struct ekp_buf defs = { 0 }, line = { 0 };
	struct ekp_sym sym, caller, buf;
	const char *append;
	bool has_kernel;
	size_t limit = EKP_HANDOFF_CMDLINE_MAX - 1;
	int err = 0;

	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < EKP_ARRAY_SIZE(required); i++)
		if (ekp_symtab_lookup(cfg->st, required[i].sym, &sym))
			return ekp_err(ENOTSUP, "--handoff: the kernel has no %s: %s is not in its "
				       "symbols", required[i].why, required[i].sym);
	if (!cfg->qemu_argv)
		return ekp_err(ENOTSUP, "--handoff hands the probes over on the kernel command "
			       "line: it needs launch mode (a QEMU command after --)");
	append = user_append(cfg->qemu_argv, &has_kernel);
	if (!has_kernel)
		return ekp_err(ENOTSUP, "--handoff hands the probes over on the kernel command "
			       "line: QEMU must boot the kernel with -kernel (and -append)");
	if (cmdline_has(append, "kprobe_event"))
		return ekp_err(EINVAL, "--handoff writes kprobe_event= itself: the -append given "
			       "already has one (the kernel keeps only the last)");
	ekp_symtab_lookup(cfg->st, "trace_event_enable_disable", &sym);
	ekp_symtab_lookup(cfg->st, "init_kprobe_trace", &caller);
	ekp_symtab_lookup(cfg->st, "kprobe_boot_events_buf", &buf);
	if (!caller.size)
		return ekp_err(EINVAL, "--handoff: the symbols give init_kprobe_trace no size");
	/* A vmlinux gives the buffer's own size; a System.map only the gap to the next symbol. */
	if (ekp_symtab_has_image(cfg->st) && buf.size && buf.size - 1 < limit)
		limit = buf.size - 1;

	h->nr_probes = cfg->nr_probes;
	h->handed = calloc((size_t)cfg->nr_probes + 1, sizeof(*h->handed));
	if (!h->handed)
		return ekp_err(ENOMEM, "out of memory");
	h->switch_addr = sym.addr;
	h->caller_lo = caller.addr;
	h->caller_hi = caller.addr + caller.size;
	if (!ekp_symtab_lookup(cfg->st, "create_or_delete_trace_kprobe", &sym))
		h->create_addr = sym.addr;
	if (!ekp_symtab_lookup(cfg->st, "enable_kprobe", &sym))
		h->enable_kprobe_addr = sym.addr;
	for (unsigned int i = 0; i < cfg->nr_probes; i++) {
		const struct ekp_probe *p = cfg->probes[i];
		size_t before = defs.len;

		if (!cfg->eligible[i])
			continue;
		err = ekp_handoff_kprobe_allowed(cfg->st, p);
		if (!err) {
			if (defs.len)
				err = ekp_buf_append(&defs, ";", 1) ? ekp_err(ENOMEM, "out of memory")
								    : 0;
			err = err ?: ekp_handoff_boot_def(&defs, p);
			if (!err && defs.len > limit)
				err = ekp_err(E2BIG, "%s/%s: kprobe_event= would pass the kernel's "
					      "%zu-byte limit", p->group, p->event, limit);
		}
		if (err == -ENOMEM)
			goto out;
		if (err) {
			defs.len = before;
			if (defs.data)
				defs.data[before] = '\0';
			if (cfg->kept)
				cfg->kept(cfg->opaque, p, ekp_errstr(err));
			err = 0;
			continue;
		}
		h->handed[i] = true;
		h->nr_handed++;
	}
	if (!h->nr_handed)
		goto out;
	/*
	 * The guest's ring buffer must keep every event from the handoff on (6.1 trace.c):
	 * - with only kprobe_event= the kernel keeps it at its minimum size until something
	 *   expands it (ring_buffer_expanded), and the boot's events overwrite each other: an
	 *   empty trace_event= expands it and enables nothing;
	 * - when sched_clock is not stable (several vCPUs under TCG), the late initcall
	 *   tracing_set_default_clock() switches the trace clock to "global", which empties
	 *   the buffer: trace_clock=global chooses that clock at boot instead.
	 */
	err = ekp_buf_printf(&line, "%s%s%s%skprobe_event=%s", append ? append : "",
			     append && *append ? " " : "",
			     cmdline_has(append, "trace_event") || cmdline_has(append, "ftrace") ||
			     cmdline_has(append, "alloc_snapshot") ? "" : "trace_event= ",
			     cmdline_has(append, "trace_clock") ? "" : "trace_clock=global ",
			     defs.data);
	if (err) {
		err = ekp_err(ENOMEM, "out of memory");
		goto out;
	}
	if (line.len > limit) {
		err = ekp_err(E2BIG, "--handoff: the kernel command line with kprobe_event= would "
			      "be %zu bytes, over the kernel's limit of %zu", line.len, limit);
		goto out;
	}
	h->append = line.data;
	line.data = NULL;
out:
	ekp_buf_free(&defs);
	ekp_buf_free(&line);
	if (err)
		ekp_handoff_free(h);
	return err;
}

int ekp_handoff_qemu_args(const struct ekp_handoff *h, struct ekp_qemu_argv *argv)
{
	if (!h || !h->append)
		return 0;
	ekp_qemu_argv_remove(argv, "append");
	return ekp_qemu_argv_append(argv, "-append") ?: ekp_qemu_argv_append(argv, h->append);
}
