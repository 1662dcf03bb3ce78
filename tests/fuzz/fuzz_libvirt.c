// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt transport's readers of outside text (host/vm/libvirt_parse.c). Input: byte 0
 * picks the reader, the rest is its input: 0 a domain XML (libvirtd's), 1 a monitor reply
 * (QEMU's through libvirtd) read as query-status and as query-cpus-fast, 2 a /proc status
 * file, 3 a /proc cmdline with the domain uuid to look for after its last NUL. Checks, besides
 * memory safety: every kept value is NUL-terminated inside its field, a refusal leaves nothing
 * half-parsed and has its reason recorded, and what is accepted has the shape promised.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/vm/libvirt_parse.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

#define FIELD_OK(f) check(strnlen((f), sizeof(f)) < sizeof(f))

static void domxml(const char *data, size_t size)
{
	struct ekp_domxml d;
	int err = ekp_domxml_parse(data, size, &d);

	FIELD_OK(d.type);
	FIELD_OK(d.name);
	FIELD_OK(d.uuid);
	FIELD_OK(d.arch);
	FIELD_OK(d.machine);
	FIELD_OK(d.kernel);
	FIELD_OK(d.mem_source);
	FIELD_OK(d.mem_access);
	if (err) {
		check(err == -EPROTO || err == -ENAMETOOLONG || err == -ENOMEM);
		check(ekp_errmsg()[0] != '\0');
		check(!d.name[0] && !d.kernel[0] && !d.type[0] && !d.mem_source[0]);
		return;
	}
	check(d.name[0] != '\0');
	check(ekp_domxml_shared_memfd(&d) ==
	      (!strcmp(d.mem_source, "memfd") && !strcmp(d.mem_access, "shared")));
}

static void reply(const char *data, size_t size)
{
	json_t *ret = NULL;
	const char *status;
	pid_t tid;
	int err = ekp_monitor_reply(data, size, &ret);

	if (err) {
		check(err == -EPROTO && !ret && ekp_errmsg()[0] != '\0');
		return;
	}
	check(ret != NULL);
	if (!ekp_monitor_status(ret, &status))
		check(status != NULL && strlen(status) < SIZE_MAX);
	if (!ekp_monitor_vcpu_thread(ret, &tid))
		check(tid > 0);
	json_decref(ret);
}

static void status(const char *data, size_t size)
{
	pid_t tgid = 0;
	int err = ekp_proc_status_tgid(data, size, &tgid);

	check(err ? err == -EPROTO : tgid > 0);
}

static void cmdline(const char *data, size_t size)
{
	const char *uuid_at = size ? memrchr(data, '\0', size) : NULL;
	size_t len = uuid_at ? (size_t)(uuid_at - data) + 1 : size;
	char uuid[64] = "", **argv = NULL;
	size_t n = 0, total = 0;
	int err;

	if (uuid_at) {
		size_t ul = size - len < sizeof(uuid) - 1 ? size - len : sizeof(uuid) - 1;

		memcpy(uuid, uuid_at + 1, ul);
	}
	err = ekp_cmdline_split(data, len, &argv);
	if (err) {
		check(!argv && (err == -ENOENT || err == -E2BIG || err == -ENOMEM));
		return;
	}
	for (n = 0; argv[n]; n++)
		total += strlen(argv[n]) + 1;
	check(n >= 1 && total >= len && total <= len + 1); /* every byte once, NULs as ends */
	ekp_cmdline_has_uuid(argv, uuid);
	free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;

	if (size < 1 || size > (1u << 20))
		return 0;
	ekp_err_clear();
	switch (data[0] % 4) {
	case 0: domxml(in, size - 1); break;
	case 1: reply(in, size - 1); break;
	case 2: status(in, size - 1); break;
	case 3: cmdline(in, size - 1); break;
	}
	return 0;
}
