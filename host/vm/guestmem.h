/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest RAM mapped into the host: QEMU keeps guest RAM in a memfd when started with
 *
 *   -object memory-backend-memfd,id=ekprobe-ram,size=S,share=on
 *   -machine memory-backend=ekprobe-ram -m S
 *
 * and the host opens that memfd through /proc/<qemu-pid>/fd/N and maps it shared, so it sees
 * guest RAM while the guest runs, without a VM exit. Measured with QEMU 7.2.22: the fd reads
 * as "/memfd:memory-backend-memfd (deleted)" (the name does not carry the backend id; fd 3 in
 * a plain start) with st_size S, mapped rw-s by QEMU (rw-p with share=off, which a host mapping
 * would not see: refused); -m rounds up to 8 KiB and the backend size must equal the result.
 *
 * Guest memory is untrusted and changes under the host: read what the guest writes with
 * atomic or volatile accesses, and write code only through QEMU (FIELD-NOTES 2: TCG does not
 * see code written through this mapping).
 */
#ifndef EKPROBE_HOST_GUESTMEM_H
#define EKPROBE_HOST_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ekprobe/arch.h"

#define EKP_GUESTMEM_BACKEND_ID "ekprobe-ram"
#define EKP_GUESTMEM_MEMFD_NAME "/memfd:memory-backend-memfd" /* QEMU 7.2's, + " (deleted)" */
#define EKP_QEMU_RAM_ALIGN 8192ull          /* QEMU 7.2 rounds -m up to this */

/*
 * QEMU's -m value: "[size=]N[.F][B|K|M|G|T|P|E][,slots=N][,maxmem=SIZE]", N decimal or 0x hex
 * (no fraction), no suffix meaning MiB, the result rounded up to 8 KiB as QEMU does.
 * 0, or -EINVAL/-ERANGE with ekp_err(). ("256", "256M", "1G", "1.5G", "size=512M".)
 */
int ekp_guestmem_parse_size(const char *m, uint64_t *bytes);

/*
 * The extra QEMU arguments for guest RAM of `bytes` (a multiple of 8 KiB), in place of any -m:
 * argv[0..argc) = "-object", "memory-backend-memfd,id=ekprobe-ram,size=<bytes>,share=on",
 * "-machine", "memory-backend=ekprobe-ram", "-m", "<size>". argv points into *a itself
 * (do not copy the struct). 0, or -EINVAL with ekp_err().
 */
struct ekp_guestmem_args {
	char object[96];
	char machine[64];
	char mem[32];
	const char *argv[7]; /* NULL-terminated */
	unsigned int argc;
};
int ekp_guestmem_qemu_args(uint64_t bytes, struct ekp_guestmem_args *a);

/*
 * Guest physical [gpa, gpa + len) -> offset in the RAM file, by the machine's layout (the
 * arch's ram_layout). 0, or -EFAULT (ekp_err) for a range that is not RAM as the guest sees
 * it (a hole, past the end) or that crosses from one range into another; -EINVAL for len 0.
 */
int ekp_ram_layout_offset(const struct ekp_ram_layout *l, uint64_t gpa, uint64_t len,
			  uint64_t *off);

/*
 * The fd number under /proc/<pid>/fd of the memfd holding guest RAM: a memfd whose size is
 * `size`; among several, the one with QEMU's name. 0, -ENOENT (none: not started with the
 * memfd backend, or not yet), -EEXIST (ambiguous), -EACCES, with ekp_err().
 */
int ekp_guestmem_find_memfd(pid_t pid, uint64_t size, int *fdnum);

struct ekp_guestmem {
	uint8_t *base;                /* the mapping of the whole RAM file */
	uint64_t size;                /* its bytes: the guest's RAM size */
	struct ekp_ram_layout layout; /* where guest physical addresses are in it */
	int fdnum;                    /* QEMU's fd number it came from */
};

/*
 * Find QEMU's memfd of `size` bytes, check QEMU maps it shared, and map it read-write shared.
 * Every range of layout must lie inside the file. 0 or negative errno with ekp_err(); g is
 * zeroed on failure.
 */
int ekp_guestmem_open(struct ekp_guestmem *g, pid_t pid, uint64_t size,
		      const struct ekp_ram_layout *layout);
void ekp_guestmem_close(struct ekp_guestmem *g);

/* Host pointer to guest physical [gpa, gpa + len), or NULL (ekp_err says why). */
void *ekp_guestmem_ptr(const struct ekp_guestmem *g, uint64_t gpa, uint64_t len);

#endif
