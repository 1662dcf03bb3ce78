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

#define EKP_GUESTMEM_BACKEND_ID "ekprobe-ram"
#define EKP_GUESTMEM_MEMFD_NAME "/memfd:memory-backend-memfd" /* QEMU 7.2's, + " (deleted)" */
#define EKP_QEMU_DEFAULT_RAM (128ull << 20) /* x86 pc/q35 without -m */
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
 * QEMU 7.2's RAM below 4 GiB for x86 (without max-ram-below-4g): q35 2 GiB once RAM >=
 * 0xb0000000, pc 3 GiB once RAM >= 0xe0000000; else all of it.
 */
uint64_t ekp_guestmem_default_below_4g(bool q35, uint64_t ram);

/*
 * x86 pc/q35 guest physical address -> offset in the RAM file, for [gpa, gpa + len):
 * below the split offset = GPA, above 4 GiB offset = GPA - 4 GiB + below_4g. 0, or -EFAULT
 * (ekp_err) for a range that is not RAM as the guest sees it (the PCI hole, the legacy
 * 0xa0000-0xfffff VGA/BIOS window, past the end) or that crosses from one part into another;
 * -EINVAL for len 0 or a below_4g that does not fit ram.
 */
int ekp_guestmem_gpa_to_offset(uint64_t ram, uint64_t below_4g, uint64_t gpa, uint64_t len,
			       uint64_t *off);

/*
 * The physical address of a kernel-image virtual address (x86_64 __START_KERNEL_map, 1 GiB).
 * Policy: nokaslr, so phys_base is 0 and PA = VA - 0xffffffff80000000. 0 or -EFAULT.
 */
int ekp_guestmem_kernel_va_to_pa(uint64_t va, uint64_t *pa);

/*
 * The fd number under /proc/<pid>/fd of the memfd holding guest RAM: a memfd whose size is
 * `size`; among several, the one with QEMU's name. 0, -ENOENT (none: not started with the
 * memfd backend, or not yet), -EEXIST (ambiguous), -EACCES, with ekp_err().
 */
int ekp_guestmem_find_memfd(pid_t pid, uint64_t size, int *fdnum);

struct ekp_guestmem {
	uint8_t *base;      /* the mapping of the whole RAM file */
	uint64_t size;      /* its bytes: the guest's RAM size */
	uint64_t below_4g;  /* RAM bytes below 4 GiB */
	int fdnum;          /* QEMU's fd number it came from */
};

/*
 * Find QEMU's memfd of `size` bytes, check QEMU maps it shared, and map it read-write shared.
 * 0 or negative errno with ekp_err(); g is zeroed on failure.
 */
int ekp_guestmem_open(struct ekp_guestmem *g, pid_t pid, uint64_t size, uint64_t below_4g);
void ekp_guestmem_close(struct ekp_guestmem *g);

/* Host pointer to guest physical [gpa, gpa + len), or NULL (ekp_err says why). */
void *ekp_guestmem_ptr(const struct ekp_guestmem *g, uint64_t gpa, uint64_t len);

#endif
