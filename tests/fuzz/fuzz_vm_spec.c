// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz the --vm SPEC parser: the input is the spec. What it accepts must be usable as is
 * (a host getaddrinfo() can take, a port in range spelled in decimal, a path that fits a Unix
 * socket address, a domain name libvirt can take, all NUL-terminated inside their arrays),
 * and parsing what it produced again must give the same; a refusal always has its reason
 * recorded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/vm/spec.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_tcp(const char *spec, const struct ekp_vm_spec *v)
{
	struct ekp_vm_spec again;
	char port[8], buf[400];
	struct in6_addr a6;
	size_t hlen = strnlen(v->host, sizeof(v->host));

	check(!strncmp(spec, "gdb:", 4));
	check(hlen > 0 && hlen <= EKP_VM_HOST_MAX);
	check(!strchr(v->host, '[') && !strchr(v->host, ']'));
	check(v->port_num >= 1);
	snprintf(port, sizeof(port), "%u", v->port_num);
	check(!strcmp(v->port, port));
	check(v->path[0] == '\0' && v->name[0] == '\0');
	if (strchr(v->host, ':')) { /* came from brackets: an IPv6 address, maybe with a zone */
		snprintf(buf, sizeof(buf), "%s", v->host);
		if (strchr(buf, '%'))
			*strchr(buf, '%') = '\0';
		check(inet_pton(AF_INET6, buf, &a6) == 1);
		snprintf(buf, sizeof(buf), "gdb:[%s]:%s", v->host, v->port);
	} else {
		snprintf(buf, sizeof(buf), "gdb:%s:%s", v->host, v->port);
	}
	check(ekp_vm_spec_parse(buf, &again) == 0);
	check(!memcmp(&again, v, sizeof(again)));
}

static void check_unix(const char *spec, const struct ekp_vm_spec *v)
{
	size_t len = strnlen(v->path, sizeof(v->path));

	check(!strncmp(spec, "unix:", 5));
	check(len > 0 && len < sizeof(v->path));
	check(!strcmp(v->path, spec + 5));
	check(v->host[0] == '\0' && v->port_num == 0 && v->name[0] == '\0');
}

static void check_libvirt(const char *spec, const struct ekp_vm_spec *v)
{
	size_t len = strnlen(v->name, sizeof(v->name));

	check(!strncmp(spec, "libvirt:", 8));
	check(len > 0 && len <= EKP_VM_NAME_MAX);
	check(!strcmp(v->name, spec + 8));
	check(!strchr(v->name, '/'));
	for (size_t i = 0; i < len; i++)
		check((unsigned char)v->name[i] >= 0x20 && v->name[i] != 0x7f);
	check(v->host[0] == '\0' && v->path[0] == '\0' && v->port_num == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_vm_spec v;
	char *spec;
	int ret;

	if (size > 4096)
		return 0;
	spec = malloc(size + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	ekp_err_clear();
	ret = ekp_vm_spec_parse(spec, &v);
	if (ret) {
		check(ret == -EINVAL || ret == -ENAMETOOLONG);
		check(ekp_errstr(ret) == ekp_errmsg() && ekp_errmsg()[0] != '\0');
		check(v.host[0] == '\0' && v.path[0] == '\0' && v.port_num == 0 && v.name[0] == '\0');
	} else if (v.kind == EKP_VM_TCP) {
		check_tcp(spec, &v);
	} else if (v.kind == EKP_VM_LIBVIRT) {
		check_libvirt(spec, &v);
	} else {
		check(v.kind == EKP_VM_UNIX);
		check_unix(spec, &v);
	}
	free(spec);
	return 0;
}
