// SPDX-License-Identifier: GPL-2.0
/*
 * --handoff's preparation on hostile input: a probe's text (the user's) and the -append the
 * user gives QEMU, through ekp_handoff_prepare() over a fixed kernel symbol table.
 *
 * Input: the probe text, a NUL, the -append text (missing parts are empty).
 * Checks besides memory safety: a probe the kernel gets is one word of printable ASCII with
 * no '"' or ';' (kprobe_event= splits at ';' and the command line quotes at '"'), it starts
 * with its explicit "p:" or "r" name, the whole -append is within the kernel's limit and
 * begins with the user's; a refusal leaves nothing allocated.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "host/handoff/handoff.h"

static const char smap[] =
	"ffffffff81000000 T foo\n"
	"ffffffff81000300 T register_kprobe\n"
	"ffffffff81000400 T trace_event_enable_disable\n"
	"ffffffff81000500 T kallsyms_lookup_name\n"
	"ffffffff81000600 t init_kprobe_trace\n"
	"ffffffff81000700 T zz_last\n"
	"ffffffff82000000 d kprobe_boot_events_buf\n"
	"ffffffff82000800 d zz_data\n";

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ekp_symtab *st;
	char *text = malloc(size + 1), *append;
	struct ekp_probe *p = NULL;
	struct ekp_handoff h;
	bool eligible = true;
	size_t n;

	if (!st && ekp_symtab_load_mem(smap, sizeof(smap) - 1, false, &st))
		abort();
	check(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	n = strlen(text);
	append = n < size ? text + n + 1 : text + size;
	if (ekp_probe_parse(text, ekp_arch_by_name("x86_64"), &p, NULL) == 1) {
		ekp_probe_free(p); /* a '-:' deletion */
	} else if (p) {
		char *argv[] = { "qemu-system-x86_64", "-kernel", "bz", "-append", append, NULL };
		struct ekp_handoff_config cfg = {
			.st = st, .probes = &p, .nr_probes = 1, .eligible = &eligible,
			.qemu_argv = argv,
		};

		p->addr = 0xffffffff81000000ull;
		p->resolved = true;
		if (ekp_handoff_prepare(&cfg, &h) == 0) {
			if (h.nr_handed) {
				const char *def;

				check(!strncmp(h.append, append, strlen(append)));
				def = strstr(h.append + strlen(append), "kprobe_event=");
				check(def != NULL);
				check(strlen(h.append) < EKP_HANDOFF_CMDLINE_MAX);
				def += strlen("kprobe_event=");
				check(def[0] == 'p' || def[0] == 'r');
				for (const char *c = def; *c; c++)
					check(*c > 0x20 && *c < 0x7f && *c != '"' && *c != ';');
			} else {
				check(h.append == NULL);
			}
			ekp_handoff_free(&h);
		} else {
			check(h.handed == NULL && h.append == NULL);
		}
		ekp_probe_free(p);
	}
	free(text);
	return 0;
}
