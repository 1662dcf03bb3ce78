// SPDX-License-Identifier: GPL-2.0
/*
 * Symbols from a System.map ("ffffffff81000000 T startup_64", as nm prints them) or a
 * /proc/kallsyms, which may add a module: "ffffffffc0002000 t foo\t[mod]". No sizes: the
 * common table derives them from the next higher address.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/util.h"
#include "host/symbols/internal.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A byte that may be part of a symbol or module name: printable, not a blank. */
static bool is_name_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u > ' ' && u != 0x7f;
}

static bool is_type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '?';
}

/*
 * One line, without its newline. Returns 0 and fills the fields, 1 for a line to skip, or
 * -EINVAL with *why set.
 */
static int parse_line(const char *p, const char *end, uint64_t *addr, char *type,
		      const char **name, size_t *name_len, const char **mod, size_t *mod_len,
		      const char **why)
{
	unsigned int digits = 0;
	const char *q;

	while (p < end && is_blank(*p))
		p++;
	if (p == end)
		return 1; /* blank line */
	*addr = 0;
	for (; p < end && ekp_hexval((unsigned char)(*p)) >= 0; p++, digits++) {
		if (digits == 16) {
			*why = "address longer than 64 bits";
			return -EINVAL;
		}
		*addr = *addr << 4 | (uint64_t)ekp_hexval((unsigned char)(*p));
	}
	if (!digits) {
		*why = "expected a hexadecimal address";
		return -EINVAL;
	}
	if (p == end || !is_blank(*p)) {
		*why = "expected a blank after the address";
		return -EINVAL;
	}
	while (p < end && is_blank(*p))
		p++;
	if (end - p < 2) {
		*why = "expected a type letter and a name";
		return -EINVAL;
	}
	if (!is_type_char(p[0]) || !is_blank(p[1])) {
		*why = "bad type letter";
		return -EINVAL;
	}
	*type = *p++;
	while (p < end && is_blank(*p))
		p++;
	for (q = p; q < end && is_name_char(*q); q++)
		;
	if (q == p) {
		*why = "expected a symbol name";
		return -EINVAL;
	}
	*name = p;
	*name_len = (size_t)(q - p);
	p = q;
	*mod = NULL;
	*mod_len = 0;
	while (p < end && is_blank(*p))
		p++;
	if (p < end && *p == '[') {
		for (q = ++p; q < end && is_name_char(*q) && *q != ']'; q++)
			;
		if (q == end || *q != ']' || q == p) {
			*why = "bad \"[module]\" suffix";
			return -EINVAL;
		}
		*mod = p;
		*mod_len = (size_t)(q - p);
		p = q + 1;
		while (p < end && is_blank(*p))
			p++;
	}
	if (p != end) {
		*why = "trailing text after the name";
		return -EINVAL;
	}
	return 0;
}

int ekp_symtab_parse_map(struct ekp_symtab *st, const char *data, size_t len, const char *what)
{
	const char *p = data, *end = data + len;
	size_t lineno = 0, nonzero = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *name, *mod, *why = "malformed line";
		size_t name_len, mod_len;
		uint64_t addr;
		char type = 0;
		int ret;

		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n))
			return ekp_err(EINVAL, "%s:%zu: malformed line: NUL byte", what, lineno);
		ret = parse_line(p, p + n, &addr, &type, &name, &name_len, &mod, &mod_len, &why);
		if (ret < 0)
			return ekp_err(EINVAL, "%s:%zu: malformed line: %s", what, lineno, why);
		p = nl ? nl + 1 : end;
		/* Undefined symbols are no place in the kernel. */
		if (ret > 0 || type == 'U' || type == 'w' || type == 'v')
			continue;
		ret = ekp_symtab_add(st, name, name_len, mod, mod_len, addr, 0, UINT64_MAX, type,
				     ekp_isym_type_flags(type));
		if (ret)
			return ret;
		if (addr)
			nonzero++;
	}
	if (!st->nsyms)
		return ekp_err(ENODATA, "%s: no symbols", what);
	if (!nonzero && st->nsyms > 1)
		return ekp_err(EACCES, "%s: every address is 0 (a kallsyms read without privilege, "
			       "kptr_restrict?)", what);
	return 0;
}
