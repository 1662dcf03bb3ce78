// SPDX-License-Identifier: GPL-2.0
/*
 * --vm SPEC -> struct ekp_vm_spec (host/vm/spec.h). Pure: inet_pton() checks address
 * literals, nothing is looked up or opened.
 *
 * HOST is one of: an IPv6 address in brackets, optionally with a zone ("[fe80::1%eth0]");
 * a dotted-quad IPv4 address (text of digits and dots only must be one, so that "1.2.3" or
 * "300.1.1.1" is an error here rather than whatever inet_aton() makes of it); otherwise a host
 * name: dot-separated labels of 1-63 letters, digits, '-' (not first or last) and '_' (found
 * in real names), an optional final dot, at most 253 characters. An unbracketed ':' in HOST is
 * refused: "gdb:::1:1234" has no unambiguous reading.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/vm/spec.h"

#define Q 64 /* printf precision for quoting user text in a reason */
#define LABEL_MAX 63

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int bad_host(const char *h, size_t len)
{
	return ekp_err(EINVAL, "bad HOST '%.*s': expected a host name, an IPv4 address or an IPv6 "
		       "address in brackets", len < Q ? (int)len : Q, h);
}

static bool good_name(const char *h, size_t len)
{
	size_t label = 0;

	if (len && h[len - 1] == '.') /* a fully qualified "localhost." */
		len--;
	if (!len)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || h[i] == '.') {
			if (!label || label > LABEL_MAX || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '_')
			return false;
		if (!label && h[i] == '-')
			return false;
		label++;
	}
	return true;
}

/* A name or an IPv4 address (h: len bytes, no ':'). */
static int check_host(const char *h, size_t len)
{
	char buf[EKP_VM_HOST_MAX + 1];
	struct in_addr a4;

	if (!len)
		return ekp_err(EINVAL, "missing HOST (expected gdb:HOST:PORT)");
	if (len > EKP_VM_HOST_MAX)
		return ekp_err(ENAMETOOLONG, "HOST is longer than %d characters", EKP_VM_HOST_MAX);
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789.") == len && strpbrk(buf, "0123456789")) {
		if (inet_pton(AF_INET, buf, &a4) != 1)
			return ekp_err(EINVAL, "bad IPv4 address '%s'", buf);
		return 0;
	}
	return good_name(h, len) ? 0 : bad_host(h, len);
}

/* The inside of [...]: an IPv6 address, optionally %ZONE. */
static int check_ipv6(const char *h, size_t len)
{
	char buf[EKP_VM_HOST_MAX + 1], *pct;
	struct in6_addr a6;

	if (!len)
		return ekp_err(EINVAL, "missing IPv6 address in '[]'");
	if (len > EKP_VM_HOST_MAX)
		return ekp_err(ENAMETOOLONG, "HOST is longer than %d characters", EKP_VM_HOST_MAX);
	memcpy(buf, h, len);
	buf[len] = '\0';
	pct = strchr(buf, '%');
	if (pct) {
		const char *zone = pct + 1;
		size_t zlen = strlen(zone);

		*pct = '\0';
		if (!zlen || zlen >= IF_NAMESIZE ||
		    strspn(zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			    zlen)
			return ekp_err(EINVAL, "bad zone '%.*s' in the IPv6 address: expected an "
				       "interface name or number", Q, zone);
	}
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return ekp_err(EINVAL, "bad IPv6 address '%.*s'", Q, buf);
	return 0;
}

static int parse_port(const char *s, struct ekp_vm_spec *out)
{
	unsigned long v = 0;

	if (!*s)
		return ekp_err(EINVAL, "missing PORT after ':' (expected gdb:HOST:PORT, PORT "
			       "1-65535)");
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return ekp_err(EINVAL, "bad PORT '%.*s': expected a decimal number, 1-65535",
				       Q, s);
		if (v <= 65535) /* past that it only has to stay out of range */
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return ekp_err(EINVAL, "PORT %.*s is out of range: 1-65535", Q, s);
	out->port_num = (uint16_t)v;
	snprintf(out->port, sizeof(out->port), "%lu", v);
	return 0;
}

static int parse_gdb(const char *rest, struct ekp_vm_spec *out)
{
	const char *host = rest, *port, *end;
	size_t len;
	int err;

	out->kind = EKP_VM_TCP;
	if (*rest == '[') {
		host = rest + 1;
		end = strchr(host, ']');
		if (!end)
			return ekp_err(EINVAL, "unclosed '[': expected gdb:[IPV6]:PORT");
		if (end[1] != ':')
			return ekp_err(EINVAL, "expected ':PORT' after ']'");
		len = (size_t)(end - host);
		port = end + 2;
		err = check_ipv6(host, len);
	} else {
		end = strchr(rest, ':');
		if (!end)
			return ekp_err(EINVAL, "missing ':PORT' (expected gdb:HOST:PORT)");
		if (strchr(end + 1, ':'))
			return ekp_err(EINVAL, "an IPv6 address goes in brackets: gdb:[ADDR]:PORT");
		len = (size_t)(end - rest);
		port = end + 1;
		err = check_host(host, len);
	}
	if (err)
		return err;
	memcpy(out->host, host, len);
	out->host[len] = '\0';
	return parse_port(port, out);
}

static int parse_unix(const char *path, struct ekp_vm_spec *out)
{
	size_t len = strlen(path);

	out->kind = EKP_VM_UNIX;
	if (!len)
		return ekp_err(EINVAL, "missing PATH (expected unix:PATH)");
	if (len >= sizeof(out->path))
		return ekp_err(ENAMETOOLONG, "PATH is %zu bytes long; a Unix socket path holds at "
			       "most %zu", len, sizeof(out->path) - 1);
	memcpy(out->path, path, len + 1);
	return 0;
}

/* A domain name as libvirt takes it: not empty, no '/', no control characters. */
static int parse_libvirt(const char *name, struct ekp_vm_spec *out)
{
	size_t len = strlen(name);

	out->kind = EKP_VM_LIBVIRT;
	if (!len)
		return ekp_err(EINVAL, "missing NAME (expected libvirt:NAME, a domain's name)");
	if (len > EKP_VM_NAME_MAX)
		return ekp_err(ENAMETOOLONG, "NAME is %zu bytes long; ekprobe-host takes domain names "
			       "of at most %d", len, EKP_VM_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch < 0x20 || ch == 0x7f)
			return ekp_err(EINVAL, "NAME has a control character (byte %zu)", i + 1);
		if (ch == '/')
			return ekp_err(EINVAL, "NAME has a '/', which no libvirt domain name has");
	}
	memcpy(out->name, name, len + 1);
	return 0;
}

int ekp_vm_spec_parse(const char *spec, struct ekp_vm_spec *out)
{
	int err;

	if (!out)
		return ekp_err(EINVAL, "no place for the parsed --vm spec");
	memset(out, 0, sizeof(*out));
	if (!spec)
		return ekp_err(EINVAL, "no --vm spec");
	if (!strncmp(spec, "gdb:", 4))
		err = parse_gdb(spec + 4, out);
	else if (!strncmp(spec, "unix:", 5))
		err = parse_unix(spec + 5, out);
	else if (!strncmp(spec, "libvirt:", 8))
		err = parse_libvirt(spec + 8, out);
	else
		err = ekp_err(EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
