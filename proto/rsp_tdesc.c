// SPDX-License-Identifier: GPL-2.0
/*
 * GDB target description XML (gdb/features/gdb-target.dtd), pure, on libexpat.
 *
 * What is kept: <architecture> text, and every <reg name= bitsize= [regnum=]>. Everything else
 * (<feature>, <flags>, <vector>, <union>, types, groups) is skipped. <xi:include href=...> is
 * not followed here: its href goes back to the caller, who fetches that document and parses it
 * into the same description, in document order.
 *
 * A <reg> without regnum gets the previous register's number + 1. Across documents "previous"
 * is approximated by the highest number already in the description, which is the same thing
 * for every stub that numbers upward (QEMU: target.xml includes features in order, one
 * explicit regnum="0" at the start of the core feature).
 *
 * Untrusted input: entity declarations are refused (no entity expansion at all), sizes and
 * counts are bounded, names and hrefs are checked. A document that fails leaves desc as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "ekprobe/err.h"
#include "proto/rsp.h"

#define TDESC_MAX_DOC      (1u << 20)
#define TDESC_MAX_REGS     4096u
#define TDESC_MAX_REGNUM   65535u
#define TDESC_MAX_BITSIZE  2048u /* SVE z registers; x86 zmm are 512 */
#define TDESC_MAX_INCLUDES 64u
#define TDESC_MAX_HREF     128u

struct tdesc_parse {
	XML_Parser xp;
	int err;
	const struct rsp_target_desc *old;
	unsigned int next_regnum;
	struct rsp_reg_desc *regs; /* new registers, document order */
	unsigned int nr_regs, cap_regs;
	char **includes;
	unsigned int nr_includes;
	bool in_arch, saw_arch;
	char arch[sizeof(((struct rsp_target_desc *)0)->arch)];
	size_t arch_len;
};

static void tdesc_fail(struct tdesc_parse *tp, int err)
{
	if (!tp->err)
		tp->err = err;
	XML_StopParser(tp->xp, XML_FALSE);
}

static const char *tdesc_attr(const XML_Char **attrs, const char *name)
{
	for (; attrs[0]; attrs += 2)
		if (!strcmp(attrs[0], name))
			return attrs[1];
	return NULL;
}

static bool tdesc_is_include(const char *el)
{
	const char *colon = strchr(el, ':');

	return !strcmp(colon ? colon + 1 : el, "include");
}

static void tdesc_reg(struct tdesc_parse *tp, const XML_Char **attrs)
{
	const char *name = tdesc_attr(attrs, "name");
	const char *bits = tdesc_attr(attrs, "bitsize");
	const char *num = tdesc_attr(attrs, "regnum");
	struct rsp_reg_desc *r;
	uint64_t bitsize, regnum;

	if (!name || !bits) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: <reg> without name or bitsize"));
		return;
	}
	if (ekp_parse_u64(bits, 10, &bitsize) || !bitsize || bitsize % 8 ||
	    bitsize > TDESC_MAX_BITSIZE) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: bad bitsize of register %.31s", name));
		return;
	}
	regnum = tp->next_regnum;
	if (num && ekp_parse_u64(num, 10, &regnum)) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: bad regnum of register %.31s", name));
		return;
	}
	if (regnum > TDESC_MAX_REGNUM) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: regnum %llu too large",
				       (unsigned long long)regnum));
		return;
	}
	if (tp->old->nr_regs + tp->nr_regs >= TDESC_MAX_REGS) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: more than %u registers", TDESC_MAX_REGS));
		return;
	}
	if (tp->nr_regs == tp->cap_regs) {
		unsigned int cap = tp->cap_regs ? tp->cap_regs * 2 : 64;
		void *p = realloc(tp->regs, cap * sizeof(*tp->regs));

		if (!p) {
			tdesc_fail(tp, ekp_err(ENOMEM, "tdesc: out of memory"));
			return;
		}
		tp->regs = p;
		tp->cap_regs = cap;
	}
	r = &tp->regs[tp->nr_regs++];
	memset(r, 0, sizeof(*r));
	/* A name that does not fit stays empty: never matched by name, still counted in 'g'. */
	if (strlen(name) < sizeof(r->name))
		strcpy(r->name, name);
	r->bitsize = (unsigned int)bitsize;
	r->regnum = (unsigned int)regnum;
	tp->next_regnum = (unsigned int)regnum + 1;
}

static bool tdesc_href_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (!n || n > TDESC_MAX_HREF || h[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static void tdesc_include(struct tdesc_parse *tp, const XML_Char **attrs)
{
	const char *href = tdesc_attr(attrs, "href");
	char **p;

	if (!href || !tdesc_href_ok(href)) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: <xi:include> without a plain href"));
		return;
	}
	if (tp->nr_includes >= TDESC_MAX_INCLUDES) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: more than %u includes", TDESC_MAX_INCLUDES));
		return;
	}
	p = realloc(tp->includes, (tp->nr_includes + 1) * sizeof(*p));
	if (!p) {
		tdesc_fail(tp, ekp_err(ENOMEM, "tdesc: out of memory"));
		return;
	}
	tp->includes = p;
	p[tp->nr_includes] = strdup(href);
	if (!p[tp->nr_includes]) {
		tdesc_fail(tp, ekp_err(ENOMEM, "tdesc: out of memory"));
		return;
	}
	tp->nr_includes++;
}

static void XMLCALL tdesc_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
	struct tdesc_parse *tp = ud;

	if (!strcmp(el, "reg"))
		tdesc_reg(tp, attrs);
	else if (tdesc_is_include(el))
		tdesc_include(tp, attrs);
	else if (!strcmp(el, "architecture")) {
		tp->in_arch = true;
		tp->saw_arch = true;
		tp->arch_len = 0;
	}
}

static void XMLCALL tdesc_end(void *ud, const XML_Char *el)
{
	struct tdesc_parse *tp = ud;

	if (!strcmp(el, "architecture"))
		tp->in_arch = false;
}

static void XMLCALL tdesc_text(void *ud, const XML_Char *s, int len)
{
	struct tdesc_parse *tp = ud;

	if (!tp->in_arch || len <= 0)
		return;
	if (tp->arch_len + (size_t)len >= sizeof(tp->arch)) {
		tdesc_fail(tp, ekp_err(EPROTO, "tdesc: <architecture> longer than %zu bytes",
				       sizeof(tp->arch) - 1));
		return;
	}
	memcpy(tp->arch + tp->arch_len, s, (size_t)len);
	tp->arch_len += (size_t)len;
	tp->arch[tp->arch_len] = '\0';
}

static void XMLCALL tdesc_entity(void *ud, const XML_Char *name, int is_param,
				 const XML_Char *value, int value_len, const XML_Char *base,
				 const XML_Char *system_id, const XML_Char *public_id,
				 const XML_Char *notation)
{
	tdesc_fail(ud, ekp_err(EPROTO, "tdesc: entity declarations are not accepted"));
}

static int tdesc_cmp(const void *a, const void *b)
{
	const struct rsp_reg_desc *x = a, *y = b;

	return x->regnum < y->regnum ? -1 : x->regnum > y->regnum;
}

/* Strip blanks around the architecture name. */
static void tdesc_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	memmove(s, s + i, n - i + 1);
}

/* Merge the new registers into desc (sorted), refusing duplicate numbers. */
static int tdesc_commit(struct rsp_target_desc *desc, struct tdesc_parse *tp)
{
	unsigned int n = desc->nr_regs + tp->nr_regs, i;
	struct rsp_reg_desc *all;

	if (tp->nr_regs) {
		all = malloc(n * sizeof(*all));
		if (!all)
			return ekp_err(ENOMEM, "tdesc: out of memory");
		if (desc->nr_regs)
			memcpy(all, desc->regs, desc->nr_regs * sizeof(*all));
		memcpy(all + desc->nr_regs, tp->regs, tp->nr_regs * sizeof(*all));
		qsort(all, n, sizeof(*all), tdesc_cmp);
		for (i = 1; i < n; i++) {
			if (all[i].regnum == all[i - 1].regnum) {
				unsigned int dup = all[i].regnum;

				free(all);
				return ekp_err(EPROTO, "tdesc: register number %u used twice", dup);
			}
		}
		free(desc->regs);
		desc->regs = all;
		desc->nr_regs = n;
	}
	if (tp->saw_arch) {
		tdesc_trim(tp->arch);
		memcpy(desc->arch, tp->arch, sizeof(desc->arch));
	}
	return 0;
}

int rsp_target_desc_parse(struct rsp_target_desc *desc, const char *xml, size_t len,
			  char ***includes, unsigned int *nr_includes)
{
	struct tdesc_parse tp;
	unsigned int i;
	int err = 0;

	if (includes)
		*includes = NULL;
	if (nr_includes)
		*nr_includes = 0;
	if (len > TDESC_MAX_DOC)
		return ekp_err(EPROTO, "tdesc: document of %zu bytes is too large", len);

	memset(&tp, 0, sizeof(tp));
	tp.old = desc;
	tp.next_regnum = desc->nr_regs ? desc->regs[desc->nr_regs - 1].regnum + 1 : 0;
	tp.xp = XML_ParserCreate(NULL);
	if (!tp.xp)
		return ekp_err(ENOMEM, "tdesc: cannot create XML parser");
	XML_SetUserData(tp.xp, &tp);
	XML_SetElementHandler(tp.xp, tdesc_start, tdesc_end);
	XML_SetCharacterDataHandler(tp.xp, tdesc_text);
	XML_SetEntityDeclHandler(tp.xp, tdesc_entity);

	if (XML_Parse(tp.xp, xml ? xml : "", (int)len, XML_TRUE) != XML_STATUS_OK) {
		err = tp.err ? tp.err
			     : ekp_err(EPROTO, "tdesc: XML error at line %lu: %s",
				       (unsigned long)XML_GetCurrentLineNumber(tp.xp),
				       XML_ErrorString(XML_GetErrorCode(tp.xp)));
	}
	XML_ParserFree(tp.xp);
	if (!err)
		err = tdesc_commit(desc, &tp);
	free(tp.regs);
	if (!err && includes && nr_includes) {
		*includes = tp.includes;
		*nr_includes = tp.nr_includes;
		return 0;
	}
	for (i = 0; i < tp.nr_includes; i++)
		free(tp.includes[i]);
	free(tp.includes);
	return err;
}

void rsp_target_desc_free(struct rsp_target_desc *desc)
{
	free(desc->regs);
	memset(desc, 0, sizeof(*desc));
}

const struct rsp_reg_desc *rsp_target_desc_find(const struct rsp_target_desc *desc,
						const char *name)
{
	unsigned int i;

	if (!name || !name[0])
		return NULL;
	for (i = 0; i < desc->nr_regs; i++)
		if (!strcmp(desc->regs[i].name, name))
			return &desc->regs[i];
	return NULL;
}

long rsp_target_desc_g_offset(const struct rsp_target_desc *desc, unsigned int regnum)
{
	unsigned long off = 0;
	unsigned int i;

	for (i = 0; i < desc->nr_regs && desc->regs[i].regnum <= regnum; i++) {
		if (desc->regs[i].regnum == regnum)
			return (long)off;
		off += desc->regs[i].bitsize / 8;
	}
	return ekp_err(ENOENT, "tdesc: no register number %u", regnum);
}
