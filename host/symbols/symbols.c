// SPDX-License-Identifier: GPL-2.0
/*
 * The symbol table common to both sources: symbols sorted by address (ekp_symtab_at, addr2sym),
 * an index sorted by name (lookup), and the loaders' entry points, which pick the reader.
 *
 * A loaded table is never modified, so any number of threads may query it at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/symbols/internal.h"

#define MAX_MAP_FILE (1ull << 30) /* a System.map / kallsyms bigger than this is not one */
#define MAX_BOOT_FILE (512u << 20) /* a boot image bigger than this is not one */
#define MAX_LISTED 8              /* addresses listed in an ambiguity message */

static const unsigned char elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

struct ekp_symtab *ekp_symtab_new(void)
{
	return calloc(1, sizeof(struct ekp_symtab));
}

void ekp_symtab_free(struct ekp_symtab *st)
{
	if (!st)
		return;
	free(st->syms);
	ekp_buf_free(&st->names);
	free(st->by_name);
	free(st->max_end);
	if (st->image_borrowed)
		;
	else if (st->image_mapped)
		munmap(st->image, st->image_len);
	else
		free(st->image);
	free(st->secs);
	free(st);
}

static int add_name(struct ekp_symtab *st, const char *s, size_t len, size_t *off)
{
	int err;

	*off = st->names.len;
	err = ekp_buf_append(&st->names, s, len);
	if (!err)
		err = ekp_buf_append(&st->names, "", 1); /* keep the NUL */
	return err;
}

int ekp_symtab_add(struct ekp_symtab *st, const char *name, size_t name_len, const char *module,
		   size_t module_len, uint64_t addr, uint64_t size, uint64_t limit, char type,
		   uint8_t flags)
{
	struct ekp_isym *s;
	int err;

	if (st->nsyms == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct ekp_isym *n;

		if (cap > SIZE_MAX / sizeof(*n))
			return -ENOMEM;
		n = realloc(st->syms, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		st->syms = n;
		st->cap = cap;
	}
	s = &st->syms[st->nsyms];
	memset(s, 0, sizeof(*s));
	err = add_name(st, name, name_len, &s->name);
	if (err)
		return err;
	s->module = EKP_ISYM_NO_MODULE;
	if (module) {
		err = add_name(st, module, module_len, &s->module);
		if (err)
			return err;
	}
	s->addr = addr;
	s->size = size;
	s->limit = limit;
	s->type = type;
	s->flags = flags;
	s->seq = st->nsyms++;
	return 0;
}

static const char *sym_name(const struct ekp_symtab *st, const struct ekp_isym *s)
{
	return st->names.data + s->name;
}

static int cmp_addr(const void *a, const void *b)
{
	const struct ekp_isym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct ekp_symtab *st = ctx;
	const struct ekp_isym *x = &st->syms[*(const size_t *)a];
	const struct ekp_isym *y = &st->syms[*(const size_t *)b];
	int c = strcmp(sym_name(st, x), sym_name(st, y));

	if (c)
		return c;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ekp_symtab_finish(struct ekp_symtab *st, bool derive_sizes)
{
	size_t n = st->nsyms, i, j;
	uint64_t next, max;

	if (n) {
		qsort(st->syms, n, sizeof(*st->syms), cmp_addr);
		st->by_name = malloc(n * sizeof(*st->by_name));
		st->max_end = malloc(n * sizeof(*st->max_end));
		if (!st->by_name || !st->max_end)
			return -ENOMEM;
	}

	/*
	 * Walk groups of equal address from the top, knowing the next higher address: a
	 * System.map symbol's size is the distance to it (any symbol counts, absolute ones too,
	 * so that the per-cpu block, based at 0, ends at phys_startup_64 rather than reaching up
	 * to the kernel's text). An ELF size-0 label reaches to the next non-absolute symbol
	 * but not past the end of its section.
	 */
	next = 0; /* 0: none higher */
	max = 0;
	for (i = n; i > 0; i = j) {
		uint64_t a = st->syms[i - 1].addr, next_here = next;
		bool any_placed = false;

		for (j = i; j > 0 && st->syms[j - 1].addr == a; j--) {
			struct ekp_isym *s = &st->syms[j - 1];
			bool abs = s->flags & EKP_ISYM_ABS;

			if (derive_sizes) {
				s->size = (abs || !next_here) ? 0 : next_here - a;
				s->end = a + s->size;
			} else if (s->size) {
				s->end = s->size > UINT64_MAX - a ? UINT64_MAX : a + s->size;
			} else if (abs) {
				s->end = a;
			} else {
				s->end = next_here ? next_here : UINT64_MAX;
				if (s->end > s->limit)
					s->end = s->limit;
				if (s->end < a)
					s->end = a;
			}
			if (!abs)
				any_placed = true;
		}
		if (derive_sizes || any_placed)
			next = a;
	}
	for (i = 0; i < n; i++) {
		if (st->syms[i].end > max)
			max = st->syms[i].end;
		st->max_end[i] = max;
		st->by_name[i] = i;
	}
	if (n)
		qsort_r(st->by_name, n, sizeof(*st->by_name), cmp_name, st);
	return 0;
}

static void fill(const struct ekp_symtab *st, const struct ekp_isym *s, struct ekp_sym *out)
{
	out->name = sym_name(st, s);
	out->addr = s->addr;
	out->size = s->size;
	out->type = s->type;
}

static unsigned int leading_underscores(const char *s)
{
	unsigned int n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

/*
 * Which of two symbols names a place better, the address aside: text, a real size, strong,
 * global, fewer leading underscores (startup_64 over _text/_stext), the longer name, then the
 * smaller name. Returns < 0 if a is better.
 */
static int better(const struct ekp_symtab *st, const struct ekp_isym *a, const struct ekp_isym *b)
{
	static const uint8_t order[] = { EKP_ISYM_TEXT, EKP_ISYM_SIZED };
	const char *na = sym_name(st, a), *nb = sym_name(st, b);
	unsigned int ua, ub;
	size_t la, lb;

	for (size_t k = 0; k < EKP_ARRAY_SIZE(order); k++)
		if ((a->flags ^ b->flags) & order[k])
			return (a->flags & order[k]) ? -1 : 1;
	if ((a->flags ^ b->flags) & EKP_ISYM_ABS)
		return (a->flags & EKP_ISYM_ABS) ? 1 : -1;
	if ((a->flags ^ b->flags) & EKP_ISYM_WEAK)
		return (a->flags & EKP_ISYM_WEAK) ? 1 : -1;
	if ((a->flags ^ b->flags) & EKP_ISYM_GLOBAL)
		return (a->flags & EKP_ISYM_GLOBAL) ? -1 : 1;
	ua = leading_underscores(na);
	ub = leading_underscores(nb);
	if (ua != ub)
		return ua < ub ? -1 : 1;
	la = strlen(na);
	lb = strlen(nb);
	if (la != lb)
		return la > lb ? -1 : 1;
	return strcmp(na, nb);
}

/* First index in by_name whose name is >= name. */
static size_t name_lower_bound(const struct ekp_symtab *st, const char *name)
{
	size_t lo = 0, hi = st->nsyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sym_name(st, &st->syms[st->by_name[mid]]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* name: NUL-terminated; module (if not NULL): module_len bytes. */
static int lookup_in(const struct ekp_symtab *st, const char *name, const char *module,
		     size_t module_len, const char *shown, struct ekp_sym *out)
{
	size_t i = name_lower_bound(st, name), nfound = 0, ndistinct = 0;
	const struct ekp_isym *best = NULL;
	uint64_t addrs[MAX_LISTED];
	struct ekp_buf msg = { 0 };
	int err;

	for (; i < st->nsyms; i++) {
		const struct ekp_isym *s = &st->syms[st->by_name[i]];

		if (strcmp(sym_name(st, s), name))
			break;
		if (module) {
			const char *m = s->module == EKP_ISYM_NO_MODULE ? NULL : st->names.data + s->module;

			if (!m || strncmp(m, module, module_len) || m[module_len])
				continue;
		}
		/* Sorted by (name, addr): a new address is a new distinct definition. */
		if (!best || s->addr != best->addr) {
			if (ndistinct < MAX_LISTED)
				addrs[ndistinct] = s->addr;
			ndistinct++;
		}
		if (!best || s->addr != best->addr || better(st, s, best) < 0)
			best = s;
		nfound++;
	}
	if (!nfound)
		return -ENOENT;
	if (ndistinct > 1) {
		ekp_buf_printf(&msg, "symbol '%s' is ambiguous: %zu definitions at", shown, ndistinct);
		for (i = 0; i < ndistinct && i < MAX_LISTED; i++)
			ekp_buf_printf(&msg, "%s 0x%" PRIx64, i ? "," : "", addrs[i]);
		if (ndistinct > MAX_LISTED)
			ekp_buf_printf(&msg, ", ...");
		err = ekp_err(ENOTUNIQ, "%s", msg.data ? msg.data : "ambiguous symbol");
		ekp_buf_free(&msg);
		return err;
	}
	fill(st, best, out);
	return 0;
}

int ekp_symtab_lookup(const struct ekp_symtab *st, const char *name, struct ekp_sym *out)
{
	const char *colon;
	int err;

	err = lookup_in(st, name, NULL, 0, name, out);
	if (err != -ENOENT)
		return err;
	/* kprobe_events' MOD:SYM, for tables read from a kallsyms with "[module]" suffixes. */
	colon = strchr(name, ':');
	if (colon && colon != name && colon[1])
		err = lookup_in(st, colon + 1, name, (size_t)(colon - name), name, out);
	if (err == -ENOENT)
		return ekp_err(ENOENT, "unknown symbol '%s'", name);
	return err;
}

int ekp_symtab_addr2sym(const struct ekp_symtab *st, uint64_t addr, struct ekp_sym *out,
			uint64_t *off)
{
	size_t lo = 0, hi = st->nsyms, i;
	const struct ekp_isym *best = NULL;

	while (lo < hi) { /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (st->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Walk down while some symbol at or below i may still reach addr. */
	for (i = lo; i > 0 && st->max_end[i - 1] > addr; i--) {
		const struct ekp_isym *s = &st->syms[i - 1];

		if (s->end <= addr)
			continue;
		if (!best)
			best = s;
		else {
			/* Text beats data and a real size beats a label, whatever the address; */
			uint8_t key = EKP_ISYM_TEXT | EKP_ISYM_SIZED;

			if ((s->flags & key) != (best->flags & key)) {
				if (better(st, s, best) < 0)
					best = s;
			} else if (s->addr == best->addr && better(st, s, best) < 0) {
				best = s; /* otherwise the nearest start (walking down: best's) */
			}
		}
	}
	if (!best)
		return ekp_err(ENOENT, "no symbol contains 0x%" PRIx64, addr);
	fill(st, best, out);
	if (off)
		*off = addr - best->addr;
	return 0;
}

bool ekp_symtab_at(const struct ekp_symtab *st, size_t i, struct ekp_sym *out)
{
	if (i >= st->nsyms)
		return false;
	fill(st, &st->syms[i], out);
	return true;
}

size_t ekp_symtab_count(const struct ekp_symtab *st)
{
	return st->nsyms;
}

bool ekp_symtab_has_image(const struct ekp_symtab *st)
{
	return st->image != NULL;
}

const char *ekp_symtab_arch(const struct ekp_symtab *st)
{
	return st ? st->arch : NULL;
}

const struct ekp_boot_info *ekp_symtab_boot_info(const struct ekp_symtab *st)
{
	return st && st->has_boot ? &st->boot : NULL;
}

bool ekp_symtab_relocatable(const struct ekp_symtab *st)
{
	return st && (st->relocatable || (st->has_boot && st->boot.relocatable));
}

const char *ekp_symtab_source(const struct ekp_symtab *st)
{
	return st && st->source ? st->source : "symbols";
}

static bool moves(uint64_t a, uint64_t lo, uint64_t hi)
{
	return a >= lo && a < hi;
}

int ekp_symtab_relocate(const struct ekp_symtab *st, uint64_t lo, uint64_t hi, uint64_t delta,
			struct ekp_symtab **out)
{
	struct ekp_symtab *n = ekp_symtab_new();
	int err = -ENOMEM;

	*out = NULL;
	if (!n)
		return -ENOMEM;
	*n = *st;
	n->syms = NULL;
	n->names = (struct ekp_buf){ 0 };
	n->by_name = NULL;
	n->max_end = NULL;
	n->secs = NULL;
	n->image_borrowed = true;
	if (st->nsyms) {
		n->syms = malloc(st->nsyms * sizeof(*n->syms));
		if (!n->syms)
			goto fail;
		memcpy(n->syms, st->syms, st->nsyms * sizeof(*n->syms));
	}
	if (st->names.len && ekp_buf_append(&n->names, st->names.data, st->names.len))
		goto fail;
	if (st->nsecs) {
		n->secs = malloc(st->nsecs * sizeof(*n->secs));
		if (!n->secs)
			goto fail;
		memcpy(n->secs, st->secs, st->nsecs * sizeof(*n->secs));
	}
	n->cap = st->nsyms;
	for (size_t i = 0; i < n->nsyms; i++) {
		struct ekp_isym *s = &n->syms[i];

		if ((s->flags & EKP_ISYM_ABS) || !moves(s->addr, lo, hi))
			continue;
		/* A range that reached past the mapping (a last label) keeps its length. */
		s->end = s->end == UINT64_MAX ? UINT64_MAX : s->end + delta;
		s->limit = s->limit == UINT64_MAX ? UINT64_MAX : s->limit + delta;
		s->addr += delta;
	}
	for (size_t i = 0; i < n->nsecs; i++)
		if (moves(n->secs[i].addr, lo, hi))
			n->secs[i].addr += delta;
	/* Sizes and ranges stay as they were; order and indices are made anew. */
	qsort(n->syms, n->nsyms, sizeof(*n->syms), cmp_addr);
	if (n->nsyms) {
		uint64_t max = 0;

		n->by_name = malloc(n->nsyms * sizeof(*n->by_name));
		n->max_end = malloc(n->nsyms * sizeof(*n->max_end));
		if (!n->by_name || !n->max_end)
			goto fail;
		for (size_t i = 0; i < n->nsyms; i++) {
			if (n->syms[i].end > max)
				max = n->syms[i].end;
			n->max_end[i] = max;
			n->by_name[i] = i;
		}
		qsort_r(n->by_name, n->nsyms, sizeof(*n->by_name), cmp_name, n);
	}
	*out = n;
	return 0;
fail:
	ekp_symtab_free(n);
	return err;
}

static int load_elf_owned(uint8_t *image, size_t len, bool mapped, const char *what,
			  struct ekp_symtab **out)
{
	struct ekp_symtab *st = ekp_symtab_new();
	int err;

	if (!st) {
		if (mapped)
			munmap(image, len);
		else
			free(image);
		return -ENOMEM;
	}
	st->image = image;
	st->image_len = len;
	st->image_mapped = mapped;
	st->source = "vmlinux";
	err = ekp_symtab_parse_elf(st, what);
	if (!err)
		err = ekp_symtab_finish(st, false);
	if (err) {
		ekp_symtab_free(st);
		return err;
	}
	*out = st;
	return 0;
}

static int load_map(const char *data, size_t len, const char *what, struct ekp_symtab **out)
{
	struct ekp_symtab *st = ekp_symtab_new();
	int err;

	if (!st)
		return -ENOMEM;
	st->source = "System.map";
	err = ekp_symtab_parse_map(st, data, len, what);
	if (!err)
		err = ekp_symtab_finish(st, true);
	if (err) {
		ekp_symtab_free(st);
		return err;
	}
	*out = st;
	return 0;
}

int ekp_symtab_load_mem(const void *data, size_t len, bool is_elf, struct ekp_symtab **out)
{
	uint8_t *copy;

	*out = NULL;
	if (!is_elf)
		return load_map(data, len, "symbol map", out);
	if (len < sizeof(elf_magic) || memcmp(data, elf_magic, sizeof(elf_magic)))
		return ekp_err(ENOEXEC, "ELF image: not an ELF file");
	/* A private, writable copy: libelf may convert in place, and reads outlive data. */
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	return load_elf_owned(copy, len, false, "ELF image", out);
}

/* Read a whole file that stat may not size (/proc/kallsyms reports 0). */
static int read_all(int fd, const char *path, char **data, size_t *len)
{
	struct ekp_buf b = { 0 };
	int err;

	for (;;) {
		ssize_t n;

		err = ekp_buf_reserve(&b, 65536);
		if (err)
			break;
		n = read(fd, b.data + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = ekp_err(errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0) {
			*data = b.data;
			*len = b.len;
			return 0;
		}
		b.len += (size_t)n;
		if (b.len > MAX_MAP_FILE) {
			err = ekp_err(EFBIG, "%s: too big for a symbol map", path);
			break;
		}
	}
	ekp_buf_free(&b);
	return err;
}

static int not_regular(const char *path, mode_t m)
{
	const char *what = S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" :
			   S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO or pipe" :
			   S_ISSOCK(m) ? "a socket" : "of an unknown type";

	return ekp_err(S_ISDIR(m) ? EISDIR : EINVAL, "%s: not a regular file (%s)", path, what);
}

/* A regular file's whole content, at most max bytes. */
static int read_regular(int fd, const char *path, size_t max, void **data, size_t *len)
{
	struct stat sb;
	uint8_t *buf;
	size_t got = 0;

	if (fstat(fd, &sb))
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return not_regular(path, sb.st_mode);
	if ((uint64_t)sb.st_size > max)
		return ekp_err(EFBIG, "%s: %lld bytes, more than the %zu this reader takes", path,
			       (long long)sb.st_size, max);
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		return ekp_err(ENOMEM, "out of memory for %s", path);
	while (got < (size_t)sb.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return ekp_err(e, "%s: %s", path, strerror(e));
		}
		if (!n)
			break; /* shrank meanwhile: what is there */
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	return 0;
}

int ekp_read_file(const char *path, size_t max, void **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err;
	struct stat sb;

	if (fd < 0) {
		err = errno;
		if (!stat(path, &sb) && !S_ISREG(sb.st_mode))
			return not_regular(path, sb.st_mode);
		return ekp_err(err, "%s: %s", path, strerror(err));
	}
	err = read_regular(fd, path, max, data, len);
	close(fd);
	return err;
}

bool ekp_boot_image_file(const char *path)
{
	uint8_t hdr[0x210];
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat sb;
	ssize_t n;

	if (fd < 0)
		return false;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return false;
	}
	n = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	return n > 0 && ekp_boot_image_is(hdr, (size_t)n);
}

static int load_boot(const void *data, size_t len, size_t max_out, const char *what,
		     struct ekp_symtab **out)
{
	struct ekp_symtab *st = ekp_symtab_new();
	int err;

	if (!st)
		return -ENOMEM;
	st->source = "kallsyms";
	err = ekp_symtab_parse_boot_image(st, data, len, max_out, what);
	if (!err)
		err = ekp_symtab_finish(st, true);
	if (err) {
		ekp_symtab_free(st);
		return err;
	}
	*out = st;
	return 0;
}

int ekp_symtab_load_boot_mem(const void *data, size_t len, size_t max_out,
			     struct ekp_symtab **out)
{
	*out = NULL;
	return load_boot(data, len, max_out, "boot image", out);
}

int ekp_symtab_load(const char *path, struct ekp_symtab **out)
{
	unsigned char magic[0x210];
	struct stat sb;
	char *data = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	*out = NULL;
	/* O_NONBLOCK: a FIFO with no writer must not block open(); it is refused below. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		/* A socket can not be opened (ENXIO): say what it is. */
		if (!stat(path, &sb) && !S_ISREG(sb.st_mode))
			return not_regular(path, sb.st_mode);
		return ekp_err(err, "%s: %s", path, strerror(err));
	}
	if (fstat(fd, &sb)) {
		err = ekp_err(errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	/*
	 * Only a regular file: an ELF is mapped, and a pipe or device (a FIFO, /dev/zero) could
	 * block or never end. /proc/kallsyms is a regular file.
	 */
	if (!S_ISREG(sb.st_mode)) {
		err = not_regular(path, sb.st_mode);
		goto out;
	}
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n > 0 && ekp_boot_image_is(magic, (size_t)n)) {
		void *img;

		err = read_regular(fd, path, MAX_BOOT_FILE, &img, &len);
		if (!err) {
			err = load_boot(img, len, 0, path, out);
			free(img);
		}
		goto out;
	}
	if (n >= (ssize_t)sizeof(elf_magic) && !memcmp(magic, elf_magic, sizeof(elf_magic))) {
		void *map;

		if ((uint64_t)sb.st_size > SIZE_MAX) {
			err = ekp_err(EFBIG, "%s: too big", path);
			goto out;
		}
		/* Private and writable: libelf may convert headers in place; nothing reaches the file. */
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			err = ekp_err(errno, "%s: mmap: %s", path, strerror(errno));
			goto out;
		}
		err = load_elf_owned(map, (size_t)sb.st_size, true, path, out);
		goto out;
	}
	/* Not ELF: a System.map or kallsyms; pread() moved nothing, read from the start. */
	err = read_all(fd, path, &data, &len);
	if (!err)
		err = load_map(data ? data : "", len, path, out);
	free(data);
out:
	close(fd);
	return err;
}

/* A symbol's flags from its nm-style type letter (System.map, kallsyms). */
uint8_t ekp_isym_type_flags(char type)
{
	uint8_t f = 0;

	switch (type) {
	case 't': case 'T': case 'w': case 'W': case 'i': case 'I':
		f |= EKP_ISYM_TEXT;
		break;
	case 'a': case 'A':
		f |= EKP_ISYM_ABS;
		break;
	}
	if (type == 'w' || type == 'W' || type == 'v' || type == 'V')
		f |= EKP_ISYM_WEAK;
	if (type >= 'A' && type <= 'Z')
		f |= EKP_ISYM_GLOBAL;
	return f;
}
