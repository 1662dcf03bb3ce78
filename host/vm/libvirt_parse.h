/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure half of the libvirt transport (host/vm/libvirt.c): what libvirt and the kernel hand
 * back, read without I/O, so it is unit-tested and fuzzed. All of it is untrusted input: the
 * domain XML (libvirtd's), monitor replies (QEMU's, passed through libvirtd), and /proc files
 * of the QEMU process.
 */
#ifndef EKPROBE_HOST_VM_LIBVIRT_PARSE_H
#define EKPROBE_HOST_VM_LIBVIRT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#define EKP_DOMXML_MAX_DOC (4u << 20) /* a real domain XML is a few KiB */
#define EKP_DOMXML_PATH_MAX 4096      /* <kernel>: a file name (PATH_MAX) */

/* What ekprobe-host reads of a domain's XML. Every field is "" when the XML has none. */
struct ekp_domxml {
	char type[16];        /* <domain type=...>: the hypervisor, "qemu" (TCG) or "kvm" */
	char name[256];       /* <name> */
	char uuid[40];        /* <uuid> */
	char arch[32];        /* <os><type arch=...> */
	char machine[64];     /* <os><type machine=...> */
	char kernel[EKP_DOMXML_PATH_MAX]; /* <os><kernel>: the image QEMU boots (-kernel) */
	char mem_source[16];  /* <memoryBacking><source type=...>: memfd, file, anonymous */
	char mem_access[16];  /* <memoryBacking><access mode=...>: shared, private */
};

/*
 * Parse a domain XML (virDomainGetXMLDesc). The root must be <domain>; entity declarations are
 * refused, each kept value is bounded (longer: -ENAMETOOLONG), an element ekprobe reads must
 * not appear twice. 0, or a negative errno with the reason (ekp_err); *out is zeroed first.
 */
int ekp_domxml_parse(const char *xml, size_t len, struct ekp_domxml *out);

/* Guest RAM is in a memfd QEMU maps shared, which a host mapping sees (the jump engine's ring):
 * <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>. */
bool ekp_domxml_shared_memfd(const struct ekp_domxml *d);

/*
 * The return value of a monitor command passed through libvirt (virDomainQemuMonitorCommand):
 * the reply is a QMP message, {"return": VALUE, "id": ...} or {"error": {"class", "desc"}}.
 * 0 and *ret (a new reference) for a return; -EPROTO with QEMU's desc for an error or anything
 * that is not a QMP reply.
 */
int ekp_monitor_reply(const char *text, size_t len, json_t **ret);

/* query-cpus-fast's return: the host thread id of the first vCPU (> 0). 0, or -EPROTO. */
int ekp_monitor_vcpu_thread(const json_t *ret, pid_t *tid);

/* query-status's return: its "status" ("prelaunch", "running", "paused", ...), or -EPROTO. */
int ekp_monitor_status(const json_t *ret, const char **status);

/* /proc/TID/status: the thread group (process) the thread belongs to, "Tgid:". 0, -EPROTO. */
int ekp_proc_status_tgid(const char *buf, size_t len, pid_t *tgid);

/*
 * /proc/PID/cmdline: NUL-separated arguments -> a NULL-terminated argv (one allocation,
 * free() it). The last argument may lack its NUL. An empty command line (a zombie, a kernel
 * thread) is -ENOENT. At most 65536 arguments.
 */
int ekp_cmdline_split(const char *buf, size_t len, char ***argv);

/* "-uuid UUID" is among argv: the QEMU libvirt started for the domain with this uuid. */
bool ekp_cmdline_has_uuid(char *const *argv, const char *uuid);

#endif
