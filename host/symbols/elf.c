// SPDX-License-Identifier: GPL-2.0
/*
 * Symbols and image bytes from an ELF file (a vmlinux), with elfutils' libelf.
 *
 * The file is untrusted: every section the reader relies on is checked against the file's
 * size before libelf is asked for its data, and the image bytes are served only from
 * allocated sections whose file range was checked at load.
 */
#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/symbols/internal.h"

struct sec {
	GElf_Shdr sh;
	const char *name; /* "" if unnamed */
	bool in_file;     /* its bytes lie inside the file (or it has none) */
};

/*
 * The ARM ELF ABIs' mapping symbols ("$x", "$d", "$a", "$t", optionally ".suffix") mark where
 * code and data start inside a section; they name no function (the kernel's System.map and
 * kallsyms leave them out too).
 */
static bool is_mapping_symbol(const char *name)
{
	return name[0] == '$' && name[1] && strchr("adtx", name[1]) &&
	       (name[2] == '\0' || name[2] == '.');
}

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static bool elf_ok;

static void elf_init(void)
{
	elf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

static bool range_in(uint64_t off, uint64_t size, uint64_t total)
{
	return off <= total && size <= total - off;
}

static bool is_debug_name(const char *name)
{
	return !strncmp(name, ".debug", 6) || !strncmp(name, ".zdebug", 7) ||
	       !strncmp(name, ".stab", 5) || !strncmp(name, ".gnu.linkonce.wi.", 17) ||
	       !strncmp(name, ".line", 5);
}

/* The letter nm(1) prints, from binding and the defining section's flags (as bfd decides). */
static char type_letter(const GElf_Sym *sym, unsigned int shndx, const struct sec *sec)
{
	unsigned int bind = GELF_ST_BIND(sym->st_info), type = GELF_ST_TYPE(sym->st_info);
	char c;

	if (shndx == SHN_COMMON)
		return 'C';
	if (type == STT_GNU_IFUNC)
		return 'i';
	if (bind == STB_WEAK)
		return type == STT_OBJECT ? 'V' : 'W';
	if (bind == STB_GNU_UNIQUE)
		return 'u';
	if (shndx == SHN_ABS)
		c = 'a';
	else if (!sec)
		return '?';
	else if (sec->sh.sh_flags & SHF_EXECINSTR)
		c = 't';
	else if (sec->sh.sh_flags & SHF_ALLOC)
		c = sec->sh.sh_type == SHT_NOBITS ? 'b' : (sec->sh.sh_flags & SHF_WRITE) ? 'd' : 'r';
	else if (is_debug_name(sec->name))
		return 'N';
	else if (sec->sh.sh_type != SHT_NOBITS && !(sec->sh.sh_flags & SHF_WRITE))
		c = 'n';
	else
		return '?';
	return bind == STB_LOCAL ? c : (char)toupper((unsigned char)c);
}

static void copy_name(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstlen && src[i]; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

/* Record the allocated sections, the ones ekp_symtab_read() serves. */
static int add_image_sections(struct ekp_symtab *st, const struct sec *secs, size_t nsecs)
{
	size_t i, n = 0;

	for (i = 0; i < nsecs; i++)
		if ((secs[i].sh.sh_flags & SHF_ALLOC) && secs[i].sh.sh_size)
			n++;
	if (!n)
		return 0;
	st->secs = calloc(n, sizeof(*st->secs));
	if (!st->secs)
		return -ENOMEM;
	for (i = 0; i < nsecs; i++) {
		const GElf_Shdr *sh = &secs[i].sh;
		struct ekp_isec *is;

		if (!(sh->sh_flags & SHF_ALLOC) || !sh->sh_size)
			continue;
		if (!secs[i].in_file) /* checked by the caller: never serve bytes past the file */
			return -EINVAL;
		is = &st->secs[st->nsecs++];
		is->addr = sh->sh_addr;
		is->size = sh->sh_size;
		is->off = sh->sh_offset;
		is->nobits = sh->sh_type == SHT_NOBITS;
		is->exec = (sh->sh_flags & SHF_EXECINSTR) != 0;
		copy_name(is->name, sizeof(is->name), secs[i].name);
	}
	return 0;
}

/*
 * The section headers, each with its name and whether its bytes lie in the file; an allocated
 * section outside the file, or whose address range wraps, is refused. *out: freed by the caller.
 */
static int read_sections(struct ekp_symtab *st, Elf *e, const char *what, size_t shnum,
			 size_t shstrndx, struct sec **out)
{
	struct sec *secs = calloc(shnum, sizeof(*secs));

	*out = secs;
	if (!secs)
		return ekp_err(ENOMEM, "out of memory");
	for (size_t i = 0; i < shnum; i++) {
		Elf_Scn *scn = elf_getscn(e, i);
		struct sec *s = &secs[i];
		const char *name = NULL;

		if (!scn || !gelf_getshdr(scn, &s->sh))
			return ekp_err(ENOEXEC, "%s: section %zu: %s", what, i, elf_errmsg(-1));
		if (shstrndx != SHN_UNDEF)
			name = elf_strptr(e, shstrndx, s->sh.sh_name);
		s->name = name ? name : "";
		s->in_file = s->sh.sh_type == SHT_NOBITS ||
			     range_in(s->sh.sh_offset, s->sh.sh_size, st->image_len);
		if (!(s->sh.sh_flags & SHF_ALLOC) || !s->sh.sh_size)
			continue;
		if (!s->in_file)
			return ekp_err(ENOEXEC, "%s: section %zu (%s) extends past the end of the file "
				       "(truncated?)", what, i, s->name);
		if (s->sh.sh_addr > UINT64_MAX - s->sh.sh_size)
			return ekp_err(ENOEXEC, "%s: section %zu (%s): address range wraps", what, i,
				       s->name);
	}
	return 0;
}

static int parse(struct ekp_symtab *st, Elf *e, const char *what)
{
	size_t shnum, shstrndx, i, symidx = 0, count, entsize;
	Elf_Data *symdata, *xdata = NULL;
	struct sec *secs = NULL;
	GElf_Ehdr eh;
	int err = 0;

	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		return ekp_err(ENOEXEC, "%s: not a valid ELF file: %s", what, elf_errmsg(-1));
	if (!eh.e_shoff)
		return ekp_err(ENODATA, "%s: no section headers, so no symbol table", what);
	/* Names as the arch ops tables have them. */
	st->arch = eh.e_machine == EM_X86_64 ? "x86_64" : eh.e_machine == EM_AARCH64 ? "arm64" :
		   NULL;
	if (eh.e_shentsize != gelf_fsize(e, ELF_T_SHDR, 1, EV_CURRENT))
		return ekp_err(ENOEXEC, "%s: bad section header size %u", what, eh.e_shentsize);
	/* At least the first entry (which holds the count if e_shnum is 0) must be there. */
	if (!range_in(eh.e_shoff, (uint64_t)(eh.e_shnum ? eh.e_shnum : 1) * eh.e_shentsize,
		      st->image_len))
		return ekp_err(ENOEXEC, "%s: section header table lies outside the file "
			       "(truncated?)", what);
	if (elf_getshdrnum(e, &shnum))
		return ekp_err(ENOEXEC, "%s: bad section count: %s", what, elf_errmsg(-1));
	if (!shnum)
		return ekp_err(ENODATA, "%s: no sections, so no symbol table", what);
	if (!range_in(eh.e_shoff, (uint64_t)shnum * eh.e_shentsize, st->image_len))
		return ekp_err(ENOEXEC, "%s: section header table lies outside the file "
			       "(truncated?)", what);
	if (elf_getshdrstrndx(e, &shstrndx) || shstrndx >= shnum)
		shstrndx = SHN_UNDEF;

	err = read_sections(st, e, what, shnum, shstrndx, &secs);
	if (err)
		goto out;

	/* Relocations kept for allocated sections (ld --emit-relocs: a KASLR kernel's vmlinux). */
	for (i = 1; i < shnum; i++)
		if ((secs[i].sh.sh_type == SHT_RELA || secs[i].sh.sh_type == SHT_REL) &&
		    secs[i].sh.sh_info > 0 && secs[i].sh.sh_info < shnum &&
		    (secs[secs[i].sh.sh_info].sh.sh_flags & SHF_ALLOC))
			st->relocatable = true;

	/* .symtab, else .dynsym. */
	for (i = 1; i < shnum && !symidx; i++)
		if (secs[i].sh.sh_type == SHT_SYMTAB)
			symidx = i;
	for (i = 1; i < shnum && !symidx; i++)
		if (secs[i].sh.sh_type == SHT_DYNSYM)
			symidx = i;
	if (!symidx) {
		err = ekp_err(ENODATA, "%s: no symbol table", what);
		goto out;
	}
	entsize = gelf_fsize(e, ELF_T_SYM, 1, EV_CURRENT);
	if (!secs[symidx].in_file || secs[symidx].sh.sh_entsize != entsize ||
	    secs[symidx].sh.sh_size % entsize) {
		err = ekp_err(ENOEXEC, "%s: malformed symbol table (section %zu)", what, symidx);
		goto out;
	}
	if (secs[symidx].sh.sh_link == 0 || secs[symidx].sh.sh_link >= shnum ||
	    secs[secs[symidx].sh.sh_link].sh.sh_type != SHT_STRTAB ||
	    !secs[secs[symidx].sh.sh_link].in_file) {
		err = ekp_err(ENOEXEC, "%s: symbol table has no valid string table", what);
		goto out;
	}
	symdata = elf_getdata(elf_getscn(e, symidx), NULL);
	if (!symdata) {
		err = ekp_err(ENOEXEC, "%s: cannot read the symbol table: %s", what, elf_errmsg(-1));
		goto out;
	}
	for (i = 1; i < shnum; i++) {
		if (secs[i].sh.sh_type != SHT_SYMTAB_SHNDX || secs[i].sh.sh_link != symidx)
			continue;
		if (secs[i].in_file)
			xdata = elf_getdata(elf_getscn(e, i), NULL);
		break;
	}

	count = symdata->d_size / entsize;
	for (i = 1; i < count; i++) {
		GElf_Sym sym;
		Elf32_Word xndx = 0;
		unsigned int type, shndx;
		const struct sec *sec = NULL;
		const char *name;
		uint64_t limit = UINT64_MAX;
		uint8_t flags = 0;
		char letter;

		if (!gelf_getsymshndx(symdata, xdata, (int)i, &sym, &xndx))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type == STT_SECTION || type == STT_FILE)
			continue;
		shndx = sym.st_shndx == SHN_XINDEX ? xndx : sym.st_shndx;
		if (shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(e, secs[symidx].sh.sh_link, sym.st_name);
		if (!name || !*name || is_mapping_symbol(name))
			continue;
		if (shndx < shnum && shndx != SHN_ABS && shndx != SHN_COMMON)
			sec = &secs[shndx];
		letter = type_letter(&sym, shndx, sec);
		if (shndx == SHN_ABS)
			flags |= EKP_ISYM_ABS;
		if (sec && (sec->sh.sh_flags & SHF_EXECINSTR))
			flags |= EKP_ISYM_TEXT;
		if (sym.st_size)
			flags |= EKP_ISYM_SIZED;
		if (GELF_ST_BIND(sym.st_info) == STB_WEAK)
			flags |= EKP_ISYM_WEAK;
		if (GELF_ST_BIND(sym.st_info) != STB_LOCAL)
			flags |= EKP_ISYM_GLOBAL;
		/* A label reaches no further than its (allocated) section. */
		if (sec && (sec->sh.sh_flags & SHF_ALLOC))
			limit = sec->sh.sh_addr + sec->sh.sh_size;
		else if (!(flags & EKP_ISYM_ABS))
			limit = sym.st_value; /* not in the image: covers nothing */
		err = ekp_symtab_add(st, name, strlen(name), NULL, 0, sym.st_value, sym.st_size, limit,
				     letter, flags);
		if (err)
			goto out;
	}
	if (!st->nsyms) {
		err = ekp_err(ENODATA, "%s: the symbol table holds no symbols", what);
		goto out;
	}
	err = add_image_sections(st, secs, shnum);
out:
	free(secs);
	return err;
}

/* Run fn on the ELF file in st->image (libelf set up once per process). */
static int with_elf(struct ekp_symtab *st, const char *what, const char *not_elf,
		    int (*fn)(struct ekp_symtab *, Elf *, const char *))
{
	Elf *e;
	int err;

	pthread_once(&elf_once, elf_init);
	if (!elf_ok)
		return ekp_err(ENOSYS, "libelf: version mismatch");
	e = elf_memory((char *)st->image, st->image_len);
	if (!e)
		return ekp_err(ENOEXEC, "%s: %s: %s", what, not_elf, elf_errmsg(-1));
	err = fn(st, e, what);
	elf_end(e);
	return err;
}

int ekp_symtab_parse_elf(struct ekp_symtab *st, const char *what)
{
	return with_elf(st, what, "not an ELF file", parse);
}

/* The loadable segments, as sections, for an image whose section headers are gone. */
static int add_segments(struct ekp_symtab *st, Elf *e, const char *what)
{
	size_t phnum, n = 0;

	if (elf_getphdrnum(e, &phnum) || !phnum)
		return ekp_err(ENOEXEC, "%s: no sections and no program headers", what);
	st->secs = calloc(phnum, sizeof(*st->secs));
	if (!st->secs)
		return ekp_err(ENOMEM, "out of memory");
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		struct ekp_isec *is;

		if (!gelf_getphdr(e, (int)i, &ph))
			return ekp_err(ENOEXEC, "%s: program header %zu: %s", what, i, elf_errmsg(-1));
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (!range_in(ph.p_offset, ph.p_filesz, st->image_len) ||
		    ph.p_vaddr > UINT64_MAX - ph.p_filesz)
			return ekp_err(ENOEXEC, "%s: segment %zu extends past the end of the image "
				       "(truncated?)", what, i);
		is = &st->secs[n++];
		is->addr = ph.p_vaddr;
		is->size = ph.p_filesz;
		is->off = ph.p_offset;
		is->exec = (ph.p_flags & PF_X) != 0;
		snprintf(is->name, sizeof(is->name), "segment %u", (unsigned int)(i & 0xffff));
	}
	st->nsecs = n;
	return n ? 0 : ekp_err(ENOEXEC, "%s: no loadable segments", what);
}

static int parse_sections(struct ekp_symtab *st, Elf *e, const char *what)
{
	size_t shnum, shstrndx;
	struct sec *secs;
	GElf_Ehdr eh;
	int err = 0;

	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		return ekp_err(ENOEXEC, "%s: the kernel image is not a valid ELF file: %s", what,
			       elf_errmsg(-1));
	st->arch = eh.e_machine == EM_X86_64 ? "x86_64" : eh.e_machine == EM_AARCH64 ? "arm64" :
		   NULL;
	if (!eh.e_shoff || elf_getshdrnum(e, &shnum) || shnum < 2 ||
	    eh.e_shentsize != gelf_fsize(e, ELF_T_SHDR, 1, EV_CURRENT) ||
	    !range_in(eh.e_shoff, (uint64_t)shnum * eh.e_shentsize, st->image_len))
		return add_segments(st, e, what);
	if (elf_getshdrstrndx(e, &shstrndx) || shstrndx >= shnum)
		shstrndx = SHN_UNDEF;
	err = read_sections(st, e, what, shnum, shstrndx, &secs);
	if (err)
		goto out;
	err = add_image_sections(st, secs, shnum);
out:
	free(secs);
	return err;
}

int ekp_symtab_parse_elf_sections(struct ekp_symtab *st, const char *what)
{
	return with_elf(st, what, "the kernel image is not an ELF file", parse_sections);
}

int ekp_symtab_read(const struct ekp_symtab *st, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (!st->image)
		return ekp_err(ENODATA, "no kernel image: the symbols came from a symbol map");
	if (len && len - 1 > UINT64_MAX - addr)
		return ekp_err(ENODATA, "0x%" PRIx64 "+%zu: wraps around", addr, len);
	/* Piece by piece: a read may run across adjacent sections. */
	while (len) {
		const struct ekp_isec *s = NULL;
		uint64_t n;

		for (size_t i = 0; i < st->nsecs; i++) {
			if (addr >= st->secs[i].addr && addr - st->secs[i].addr < st->secs[i].size) {
				s = &st->secs[i];
				if (!s->nobits)
					break;
			}
		}
		if (!s)
			return ekp_err(ENODATA, "0x%" PRIx64 ": not in the kernel image", addr);
		if (s->nobits)
			return ekp_err(ENODATA, "0x%" PRIx64 ": in %s, which the image holds no bytes "
				       "for (zero-filled at boot)", addr, s->name);
		n = s->addr + s->size - addr;
		if (n > len)
			n = len;
		memcpy(out, st->image + s->off + (addr - s->addr), (size_t)n);
		out += n;
		addr += n;
		len -= (size_t)n;
	}
	return 0;
}
