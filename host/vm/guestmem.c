// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/vm/guestmem.h"


/* ---- -m ------------------------------------------------------------------------------------ */

static int suffix_shift(char c)
{
	switch (c) {
	case 'b': case 'B': return 0;
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	case 'p': case 'P': return 50;
	case 'e': case 'E': return 60;
	}
	return -1;
}

/* One size: s[0..len). As QEMU's qemu_strtosz with a default unit of MiB. */
static int parse_one_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t val = 0, frac = 0, frac_div = 1;
	unsigned __int128 total;
	size_t i = 0;
	int shift = 20;

	if (!len)
		return ekp_err(EINVAL, "empty memory size");
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		i = 2;
		if (i == len || !isxdigit((unsigned char)s[i]))
			return ekp_err(EINVAL, "bad memory size '%.*s'", (int)len, s);
		for (; i < len && isxdigit((unsigned char)s[i]); i++) {
			if (val >> 60)
				return ekp_err(ERANGE, "memory size '%.*s' is too big", (int)len, s);
			val = val << 4 | (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' :
						    tolower((unsigned char)s[i]) - 'a' + 10);
		}
	} else {
		if (!isdigit((unsigned char)s[0]))
			return ekp_err(EINVAL, "bad memory size '%.*s'", (int)len, s);
		for (; i < len && isdigit((unsigned char)s[i]); i++) {
			if (val > (UINT64_MAX - 9) / 10)
				return ekp_err(ERANGE, "memory size '%.*s' is too big", (int)len, s);
			val = val * 10 + (uint64_t)(s[i] - '0');
		}
		if (i < len && s[i] == '.') {
			size_t digits = 0;

			for (i++; i < len && isdigit((unsigned char)s[i]); i++, digits++)
				if (frac_div < 1000000000000000000ull) {
					frac = frac * 10 + (uint64_t)(s[i] - '0');
					frac_div *= 10;
				}
			if (!digits)
				return ekp_err(EINVAL, "bad memory size '%.*s'", (int)len, s);
		}
	}
	if (i < len) {
		shift = suffix_shift(s[i]);
		if (shift < 0 || i + 1 != len)
			return ekp_err(EINVAL, "bad memory size '%.*s': expected a number with an "
				       "optional B, K, M, G, T, P or E suffix", (int)len, s);
	}
	if (frac && shift == 0)
		return ekp_err(EINVAL, "memory size '%.*s': a fraction needs a unit", (int)len, s);
	total = (unsigned __int128)val << shift;
	total += ((unsigned __int128)frac << shift) / frac_div;
	if (total > UINT64_MAX - (EKP_QEMU_RAM_ALIGN - 1))
		return ekp_err(ERANGE, "memory size '%.*s' is too big", (int)len, s);
	*out = (uint64_t)total;
	return 0;
}

int ekp_guestmem_parse_size(const char *m, uint64_t *bytes)
{
	const char *p = m;
	uint64_t size = 0, ignored;
	bool have = false;

	if (!m || !*m)
		return ekp_err(EINVAL, "empty -m value");
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		int err;

		if (!eq && p == m) {
			err = parse_one_size(p, len, &size);
			have = true;
		} else if (eq && (size_t)(eq - p) == 4 && !strncmp(p, "size", 4)) {
			err = parse_one_size(eq + 1, len - 5, &size);
			have = true;
		} else if (eq && (size_t)(eq - p) == 6 && !strncmp(p, "maxmem", 6)) {
			err = parse_one_size(eq + 1, len - 7, &ignored); /* hotplug: not boot RAM */
		} else if (eq && (size_t)(eq - p) == 5 && !strncmp(p, "slots", 5)) {
			err = 0;
		} else {
			return ekp_err(EINVAL, "-m '%s': unknown option '%.*s' (expected [size=]SIZE"
				       "[,slots=N][,maxmem=SIZE])", m, (int)len, p);
		}
		if (err)
			return ekp_err_prefix(err, "-m '%s': ", m);
		p += len;
		if (*p == ',' && !*++p)
			return ekp_err(EINVAL, "-m '%s': trailing ','", m);
	}
	if (!have)
		return ekp_err(EINVAL, "-m '%s': no size", m);
	if (!size)
		return ekp_err(EINVAL, "-m '%s': guest RAM size 0", m);
	*bytes = (size + EKP_QEMU_RAM_ALIGN - 1) & ~(EKP_QEMU_RAM_ALIGN - 1);
	return 0;
}

int ekp_guestmem_qemu_args(uint64_t bytes, struct ekp_guestmem_args *a)
{
	memset(a, 0, sizeof(*a));
	if (!bytes || bytes % EKP_QEMU_RAM_ALIGN)
		return ekp_err(EINVAL, "guest RAM of %" PRIu64 " bytes: QEMU 7.2 rounds -m up to "
			       "8 KiB and the memory backend must match it exactly", bytes);
	snprintf(a->object, sizeof(a->object),
		 "memory-backend-memfd,id=" EKP_GUESTMEM_BACKEND_ID ",size=%" PRIu64 ",share=on",
		 bytes);
	snprintf(a->machine, sizeof(a->machine), "memory-backend=" EKP_GUESTMEM_BACKEND_ID);
	if (bytes % (1ull << 20) == 0)
		snprintf(a->mem, sizeof(a->mem), "%" PRIu64 "M", bytes >> 20);
	else
		snprintf(a->mem, sizeof(a->mem), "%" PRIu64 "K", bytes >> 10);
	a->argv[0] = "-object";
	a->argv[1] = a->object;
	a->argv[2] = "-machine";
	a->argv[3] = a->machine;
	a->argv[4] = "-m";
	a->argv[5] = a->mem;
	a->argv[6] = NULL;
	a->argc = 6;
	return 0;
}

/* ---- addresses ------------------------------------------------------------------------------ */

int ekp_ram_layout_offset(const struct ekp_ram_layout *l, uint64_t gpa, uint64_t len,
			  uint64_t *off)
{
	if (!len)
		return ekp_err(EINVAL, "guest physical range of length 0");
	if (gpa + len < gpa)
		return ekp_err(EFAULT, "guest physical range at 0x%" PRIx64 " wraps", gpa);
	for (unsigned int i = 0; i < l->nr && i < EKP_RAM_MAX_RANGES; i++) {
		const struct ekp_ram_range *r = &l->range[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->len)
			continue;
		if (len > r->len - (gpa - r->gpa))
			return ekp_err(EFAULT, "guest physical 0x%" PRIx64 "+0x%" PRIx64 " runs past "
				       "the RAM range 0x%" PRIx64 "-0x%" PRIx64, gpa, len, r->gpa,
				       r->gpa + r->len - 1);
		*off = r->offset + (gpa - r->gpa);
		return 0;
	}
	return ekp_err(EFAULT, "guest physical 0x%" PRIx64 "+0x%" PRIx64 " is not RAM", gpa, len);
}

/* ---- QEMU's memfd ------------------------------------------------------------------------- */

static bool is_qemu_name(const char *link)
{
	size_t n = strlen(EKP_GUESTMEM_MEMFD_NAME);

	return !strncmp(link, EKP_GUESTMEM_MEMFD_NAME, n) &&
	       (!link[n] || !strcmp(link + n, " (deleted)"));
}

int ekp_guestmem_find_memfd(pid_t pid, uint64_t size, int *fdnum)
{
	char dir[64], seen[256] = "";
	size_t used = 0;
	int best = -1, nbest = 0, named = -1, nnamed = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return ekp_err(errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char path[sizeof(dir) + sizeof(de->d_name) + 2], link[256];
		struct stat st;
		ssize_t n;
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || end == de->d_name || fd < 0 || fd > INT32_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "/memfd:", 7) || stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (used < sizeof(seen) - 1) {
			int w = snprintf(seen + used, sizeof(seen) - used, "%sfd %ld %s %lld bytes",
					 used ? ", " : "", fd, link, (long long)st.st_size);

			used = w < 0 ? sizeof(seen) - 1 : used + (size_t)w;
		}
		if ((uint64_t)st.st_size != size)
			continue;
		best = (int)fd;
		nbest++;
		if (is_qemu_name(link)) {
			named = (int)fd;
			nnamed++;
		}
	}
	closedir(d);
	if (nbest == 1 || (nbest > 1 && nnamed == 1)) {
		*fdnum = nbest == 1 ? best : named;
		return 0;
	}
	if (nbest > 1)
		return ekp_err(EEXIST, "process %d has %d memfds of %" PRIu64 " bytes (%s): cannot "
			       "tell which holds guest RAM", (int)pid, nbest, size, seen);
	return ekp_err(ENOENT, "process %d has no memfd of %" PRIu64 " bytes (%s); was QEMU "
		       "started with -object memory-backend-memfd,...,share=on -machine "
		       "memory-backend=... ?", (int)pid, size, seen[0] ? seen : "no memfds");
}

/* 0 if pid maps the file (dev, ino) and every such mapping is shared. */
static int check_shared(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64], line[512];
	int found = 0, private = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char perms[8];
		unsigned int maj, min;
		unsigned long long inode;

		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu", perms, &maj, &min, &inode) != 4)
			continue;
		if (inode != (unsigned long long)ino || makedev(maj, min) != dev)
			continue;
		found++;
		if (perms[3] != 's')
			private++;
	}
	fclose(f);
	if (!found)
		return ekp_err(ENOENT, "process %d does not map its guest RAM memfd", (int)pid);
	if (private)
		return ekp_err(EINVAL, "process %d maps guest RAM privately (share=off): a host "
			       "mapping would not see the guest's writes; use share=on", (int)pid);
	return 0;
}

int ekp_guestmem_open(struct ekp_guestmem *g, pid_t pid, uint64_t size,
		      const struct ekp_ram_layout *layout)
{
	char path[64];
	struct stat st;
	void *base;
	int fdnum, fd, err;

	memset(g, 0, sizeof(*g));
	if (!size || size > SIZE_MAX || !layout->nr || layout->nr > EKP_RAM_MAX_RANGES)
		return ekp_err(EINVAL, "bad guest RAM layout (%" PRIu64 " bytes, %u ranges)", size,
			       layout->nr);
	for (unsigned int i = 0; i < layout->nr; i++)
		if (layout->range[i].offset > size ||
		    layout->range[i].len > size - layout->range[i].offset)
			return ekp_err(EINVAL, "RAM range %u (0x%" PRIx64 "+0x%" PRIx64 " at offset 0x%"
				       PRIx64 ") lies outside the %" PRIu64 "-byte RAM file", i,
				       layout->range[i].gpa, layout->range[i].len,
				       layout->range[i].offset, size);
	err = ekp_guestmem_find_memfd(pid, size, &fdnum);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fdnum);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ekp_err(errno, "opening %s: %s", path, strerror(errno));
	/* The fd may have been replaced since the scan: check again what we opened. */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(fd);
		return ekp_err(ESTALE, "%s changed under us", path);
	}
	err = check_shared(pid, st.st_dev, st.st_ino);
	if (err) {
		close(fd);
		return err;
	}
	base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	err = errno;
	close(fd);
	if (base == MAP_FAILED)
		return ekp_err(err, "mapping %" PRIu64 " bytes of %s: %s", size, path,
			       strerror(err));
	g->base = base;
	g->size = size;
	g->layout = *layout;
	g->fdnum = fdnum;
	return 0;
}

void ekp_guestmem_close(struct ekp_guestmem *g)
{
	if (g->base)
		munmap(g->base, (size_t)g->size);
	memset(g, 0, sizeof(*g));
}

void *ekp_guestmem_ptr(const struct ekp_guestmem *g, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	if (!g->base) {
		ekp_err(EINVAL, "guest RAM is not mapped");
		return NULL;
	}
	if (ekp_ram_layout_offset(&g->layout, gpa, len, &off))
		return NULL;
	return g->base + off;
}
