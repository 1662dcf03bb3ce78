// SPDX-License-Identifier: GPL-2.0
/*
 * Domain XML (libexpat), monitor replies (jansson, classified as QMP messages by proto/), and
 * /proc files of the QEMU process: pure readers of untrusted text (host/vm/libvirt_parse.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "ekprobe/err.h"
#include "host/vm/libvirt_parse.h"
#include "proto/qmp.h"

/* ---- domain XML ---------------------------------------------------------------------------- */

#define DOMXML_MAX_DEPTH 64

/* The elements whose text is kept, by their path from <domain>. */
enum dx_text { DX_NONE, DX_NAME, DX_UUID, DX_KERNEL };

struct dx_parse {
	XML_Parser xp;
	int err;
	struct ekp_domxml *out;
	unsigned int depth;        /* elements open, <domain> is 1 */
	const char *path[4];       /* names of the open elements up to depth 3 (into expat) */
	enum dx_text text;         /* the element whose text is being collected */
	char *buf;                 /* where it goes */
	size_t cap, used;
	unsigned int seen;         /* bit per element read: each may come once */
};

static void dx_fail(struct dx_parse *p, int err)
{
	if (!p->err)
		p->err = err;
	XML_StopParser(p->xp, XML_FALSE);
}

static const char *dx_attr(const XML_Char **attrs, const char *name)
{
	for (; attrs[0]; attrs += 2)
		if (!strcmp(attrs[0], name))
			return attrs[1];
	return NULL;
}

/* Copy an attribute's value into a field, refusing one that does not fit. */
static void dx_copy(struct dx_parse *p, char *dst, size_t size, const char *what, const char *v)
{
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (n >= size) {
		dx_fail(p, ekp_err(ENAMETOOLONG, "domain XML: %s is %zu bytes long, more than the "
				   "%zu expected", what, n, size - 1));
		return;
	}
	memcpy(dst, v, n + 1);
}

static bool dx_once(struct dx_parse *p, unsigned int bit, const char *what)
{
	if (p->seen & (1u << bit)) {
		dx_fail(p, ekp_err(EPROTO, "domain XML: two %s", what));
		return false;
	}
	p->seen |= 1u << bit;
	return true;
}

static void dx_collect(struct dx_parse *p, enum dx_text t, char *buf, size_t cap)
{
	p->text = t;
	p->buf = buf;
	p->cap = cap;
	p->used = 0;
	buf[0] = '\0';
}

static void XMLCALL dx_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
	struct dx_parse *p = ud;
	struct ekp_domxml *d = p->out;
	unsigned int depth = ++p->depth;

	if (p->text != DX_NONE) { /* <kernel>foo<b/></kernel>: not a file name */
		dx_fail(p, ekp_err(EPROTO, "domain XML: an element inside <%s>", p->path[depth - 1]));
		return;
	}
	if (depth > DOMXML_MAX_DEPTH) {
		dx_fail(p, ekp_err(EPROTO, "domain XML: nested more than %d deep", DOMXML_MAX_DEPTH));
		return;
	}
	if (depth == 1) {
		if (strcmp(el, "domain")) {
			dx_fail(p, ekp_err(EPROTO, "domain XML: the root is <%.32s>, not <domain>", el));
			return;
		}
		dx_copy(p, d->type, sizeof(d->type), "<domain type>", dx_attr(attrs, "type"));
	}
	if (depth < 4)
		p->path[depth] = el;
	if (depth != 2 && depth != 3)
		return;
	if (depth == 2) {
		if (!strcmp(el, "name") && dx_once(p, 0, "<name>"))
			dx_collect(p, DX_NAME, d->name, sizeof(d->name));
		else if (!strcmp(el, "uuid") && dx_once(p, 1, "<uuid>"))
			dx_collect(p, DX_UUID, d->uuid, sizeof(d->uuid));
		return;
	}
	if (!strcmp(p->path[2], "os")) {
		if (!strcmp(el, "type") && dx_once(p, 2, "<os><type>")) {
			dx_copy(p, d->arch, sizeof(d->arch), "<os><type arch>", dx_attr(attrs, "arch"));
			dx_copy(p, d->machine, sizeof(d->machine), "<os><type machine>",
				dx_attr(attrs, "machine"));
		} else if (!strcmp(el, "kernel") && dx_once(p, 3, "<os><kernel>")) {
			dx_collect(p, DX_KERNEL, d->kernel, sizeof(d->kernel));
		}
	} else if (!strcmp(p->path[2], "memoryBacking")) {
		if (!strcmp(el, "source") && dx_once(p, 4, "<memoryBacking><source>"))
			dx_copy(p, d->mem_source, sizeof(d->mem_source), "<memoryBacking><source type>",
				dx_attr(attrs, "type"));
		else if (!strcmp(el, "access") && dx_once(p, 5, "<memoryBacking><access>"))
			dx_copy(p, d->mem_access, sizeof(d->mem_access),
				"<memoryBacking><access mode>", dx_attr(attrs, "mode"));
	}
}

static void XMLCALL dx_end(void *ud, const XML_Char *el)
{
	struct dx_parse *p = ud;

	(void)el;
	p->text = DX_NONE;
	p->depth--;
}

static void XMLCALL dx_text_cb(void *ud, const XML_Char *s, int len)
{
	struct dx_parse *p = ud;

	if (p->text == DX_NONE || len <= 0)
		return;
	if ((size_t)len >= p->cap - p->used) {
		dx_fail(p, ekp_err(ENAMETOOLONG, "domain XML: <%s> is longer than %zu bytes",
				   p->path[p->depth], p->cap - 1));
		return;
	}
	if (memchr(s, '\0', (size_t)len)) {
		dx_fail(p, ekp_err(EPROTO, "domain XML: a NUL in <%s>", p->path[p->depth]));
		return;
	}
	memcpy(p->buf + p->used, s, (size_t)len);
	p->used += (size_t)len;
	p->buf[p->used] = '\0';
}

static void XMLCALL dx_entity(void *ud, const XML_Char *name, int is_param,
			      const XML_Char *value, int value_len, const XML_Char *base,
			      const XML_Char *system_id, const XML_Char *public_id,
			      const XML_Char *notation)
{
	dx_fail(ud, ekp_err(EPROTO, "domain XML: entity declarations are not accepted"));
}

/* Leading and trailing blanks are the XML's layout, not part of a value. */
static void dx_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	while (s[i] && strchr(" \t\r\n", s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

int ekp_domxml_parse(const char *xml, size_t len, struct ekp_domxml *out)
{
	struct dx_parse p;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len > EKP_DOMXML_MAX_DOC)
		return ekp_err(EPROTO, "domain XML of %zu bytes is too large", len);
	memset(&p, 0, sizeof(p));
	p.out = out;
	p.xp = XML_ParserCreate(NULL);
	if (!p.xp)
		return ekp_err(ENOMEM, "cannot create an XML parser");
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, dx_start, dx_end);
	XML_SetCharacterDataHandler(p.xp, dx_text_cb);
	XML_SetEntityDeclHandler(p.xp, dx_entity);
	if (XML_Parse(p.xp, xml ? xml : "", (int)len, XML_TRUE) != XML_STATUS_OK)
		err = p.err ? p.err : ekp_err(EPROTO, "domain XML: error at line %lu: %s",
					      (unsigned long)XML_GetCurrentLineNumber(p.xp),
					      XML_ErrorString(XML_GetErrorCode(p.xp)));
	XML_ParserFree(p.xp);
	dx_trim(out->name);
	dx_trim(out->uuid);
	dx_trim(out->kernel);
	if (!err && !out->name[0])
		err = ekp_err(EPROTO, "domain XML: no <name>");
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

bool ekp_domxml_shared_memfd(const struct ekp_domxml *d)
{
	return !strcmp(d->mem_source, "memfd") && !strcmp(d->mem_access, "shared");
}

/* ---- monitor replies ------------------------------------------------------------------------ */

/* libvirtd's text goes into messages on a terminal: control bytes become '?'. */
static void printable(const char *s, char *out, size_t size)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < size; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
}

int ekp_monitor_reply(const char *text, size_t len, json_t **ret)
{
	struct qmp_msg msg;
	json_error_t jerr;
	json_t *j;
	int err;

	*ret = NULL;
	j = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return ekp_err(EPROTO, "the monitor's reply is not JSON: %s", jerr.text);
	err = qmp_msg_from_json(j, &msg);
	json_decref(j);
	if (err)
		return ekp_err(EPROTO, "the monitor's reply is not a QMP reply");
	if (msg.kind == QMP_MSG_RETURN) {
		*ret = json_incref(json_object_get(msg.json, "return"));
		qmp_msg_free(&msg);
		return 0;
	}
	if (msg.kind == QMP_MSG_ERROR) {
		char cls[64], desc[512];

		printable(msg.err_class, cls, sizeof(cls));
		printable(msg.err_desc, desc, sizeof(desc));
		err = ekp_err(EPROTO, "%s (%s)", desc[0] ? desc : "an error with no description",
			      cls[0] ? cls : "no class");
	}
	else
		err = ekp_err(EPROTO, "the monitor's reply is neither a return nor an error");
	qmp_msg_free(&msg);
	return err;
}

int ekp_monitor_vcpu_thread(const json_t *ret, pid_t *tid)
{
	const json_t *cpu = json_is_array(ret) ? json_array_get(ret, 0) : NULL;
	const json_t *t = cpu ? json_object_get(cpu, "thread-id") : NULL;
	json_int_t v;

	if (!json_is_integer(t))
		return ekp_err(EPROTO, "query-cpus-fast gave no thread-id for the first vCPU");
	v = json_integer_value(t);
	if (v <= 0 || v > INT32_MAX)
		return ekp_err(EPROTO, "query-cpus-fast gave thread-id %lld", (long long)v);
	*tid = (pid_t)v;
	return 0;
}

int ekp_monitor_status(const json_t *ret, const char **status)
{
	const json_t *s = json_object_get(ret, "status");

	if (!json_is_string(s))
		return ekp_err(EPROTO, "query-status gave no status");
	*status = json_string_value(s);
	return 0;
}

/* ---- /proc ---------------------------------------------------------------------------------- */

int ekp_proc_status_tgid(const char *buf, size_t len, pid_t *tgid)
{
	static const char key[] = "Tgid:";
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > sizeof(key) - 1 && !memcmp(p, key, sizeof(key) - 1)) {
			const char *q = p + sizeof(key) - 1;
			uint64_t v = 0;
			bool digits = false;

			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			for (; q < eol && *q >= '0' && *q <= '9'; q++, digits = true) {
				v = v * 10 + (uint64_t)(*q - '0');
				if (v > INT32_MAX)
					return ekp_err(EPROTO, "/proc status: Tgid out of range");
			}
			if (!digits || q != eol || v == 0)
				return ekp_err(EPROTO, "/proc status: a bad Tgid line");
			*tgid = (pid_t)v;
			return 0;
		}
		p = eol + 1;
	}
	return ekp_err(EPROTO, "/proc status: no Tgid line");
}

#define CMDLINE_MAX_ARGS 65536u

int ekp_cmdline_split(const char *buf, size_t len, char ***argv)
{
	size_t n = 0, i;
	char **v, *copy;

	*argv = NULL;
	if (!len)
		return ekp_err(ENOENT, "an empty command line");
	for (i = 0; i < len; i++)
		n += buf[i] == '\0';
	if (buf[len - 1] != '\0')
		n++;
	if (n > CMDLINE_MAX_ARGS)
		return ekp_err(E2BIG, "a command line of more than %u arguments", CMDLINE_MAX_ARGS);
	/* One block: the pointers, then a NUL-terminated copy of the text. */
	v = malloc((n + 1) * sizeof(*v) + len + 1);
	if (!v)
		return ekp_err(ENOMEM, "out of memory");
	copy = (char *)(v + n + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	for (i = 0, n = 0; i < len; i += strlen(copy + i) + 1)
		v[n++] = copy + i;
	v[n] = NULL;
	*argv = v;
	return 0;
}

bool ekp_cmdline_has_uuid(char *const *argv, const char *uuid)
{
	if (!uuid || !uuid[0])
		return false;
	for (size_t i = 0; argv && argv[i] && argv[i + 1]; i++)
		if ((!strcmp(argv[i], "-uuid") || !strcmp(argv[i], "--uuid")) &&
		    !strcasecmp(argv[i + 1], uuid))
			return true;
	return false;
}
