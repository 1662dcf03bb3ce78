// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/helpers.h"

static char tmp_dir[64];

const char *t_tmp_dir(void)
{
	if (!tmp_dir[0]) {
		strcpy(tmp_dir, "/tmp/ekp-unit-XXXXXX");
		assert_non_null(mkdtemp(tmp_dir));
	}
	return tmp_dir;
}

void t_tmp_remove(void)
{
	char cmd[128];

	if (!tmp_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp_dir);
	tmp_dir[0] = '\0';
}

const char *t_tmp_path(const char *name)
{
	static char buf[4][256];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", t_tmp_dir(), name);
	return p;
}

void t_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

uint64_t t_system_map_addr(const char *name)
{
	const char *env = getenv("EKPROBE_SYSTEM_MAP"), *bz = getenv("EKPROBE_BZIMAGE");
	char path[4096], line[512], *slash;
	uint64_t addr = 0;
	FILE *f;

	if (env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		if (!bz)
			return 0;
		snprintf(path, sizeof(path), "%s", bz);
		slash = strrchr(path, '/');
		if (!slash)
			return 0;
		snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "System.map");
	}
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a;
		char type, sym[256];

		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && !strcmp(sym, name)) {
			addr = a;
			break;
		}
	}
	fclose(f);
	return addr;
}
