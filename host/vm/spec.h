/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --vm SPEC: where the gdbstub of a QEMU started by the user listens. The parser is pure (no
 * I/O, no name lookup), so a bad spec is a usage error found before anything starts.
 *
 *   gdb:HOST:PORT   HOST a host name, an IPv4 address, or an IPv6 address in brackets
 *                   ([::1], [fe80::1%eth0]); PORT decimal, 1-65535
 *   unix:PATH       PATH non-empty and short enough for a Unix socket address
 *   libvirt:NAME    a libvirt domain (host/vm/libvirt.h): NAME non-empty, at most 255 bytes,
 *                   no '/' (libvirt refuses it in names) and no control characters
 */
#ifndef EKPROBE_HOST_VM_SPEC_H
#define EKPROBE_HOST_VM_SPEC_H

#include <stdint.h>
#include <sys/un.h>

#define EKP_VM_HOST_MAX 253 /* the longest DNS name; an IPv6 literal with a zone fits too */
#define EKP_VM_NAME_MAX 255 /* a libvirt domain name */

enum ekp_vm_kind {
	EKP_VM_TCP,  /* gdb:HOST:PORT */
	EKP_VM_UNIX, /* unix:PATH */
	EKP_VM_LIBVIRT, /* libvirt:NAME */
};

struct ekp_vm_spec {
	enum ekp_vm_kind kind;
	char host[EKP_VM_HOST_MAX + 1]; /* TCP: as getaddrinfo() takes it (IPv6 without brackets) */
	char port[6];                   /* TCP: port_num in decimal, for getaddrinfo() */
	uint16_t port_num;              /* TCP: 1-65535 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* UNIX: NUL-terminated */
	char name[EKP_VM_NAME_MAX + 1]; /* LIBVIRT: the domain's name, NUL-terminated */
};

/*
 * Parse spec into *out (zeroed first). 0, or a negative errno with the reason recorded by
 * ekp_err() (the reason does not repeat the spec: callers print "--vm SPEC: reason").
 */
int ekp_vm_spec_parse(const char *spec, struct ekp_vm_spec *out);

#endif
