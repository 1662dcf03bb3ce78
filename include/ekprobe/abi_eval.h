/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fetch-program interpreter of the host/guest ABI (abi.h): one implementation, shared byte
 * for byte. The guest kernel runs it at every jump-probe hit (scripts/kernel.sh copies this
 * file to include/linux/ekprobe_abi_eval.h and keeps the copy next to the built kernel; a test
 * compares them); the host's tests run the very same code over fake memory; an engine without
 * a guest patch (a TCG plugin reading registers and memory through QEMU) can run it too.
 *
 * Builds as kernel C (gnu11, no libc, __KERNEL__) and as host C. The includer provides the
 * environment, defined before including this file:
 *
 *   struct ekp_eval_env { ... };      whatever its hooks need (opaque here)
 *   bool ekp_eval_load(struct ekp_eval_env *env, ekp_u64 addr, unsigned int size, ekp_u64 *out);
 *       one `size`-byte (1, 2, 4 or 8) little-endian load, zero-extended: false if it faulted
 *       or was refused. The only memory access of a program.
 *   bool ekp_eval_reg(struct ekp_eval_env *env, unsigned int off, ekp_u64 *out);
 *       the struct ekp_abi_regs word at byte offset off (checked here: a multiple of 8 inside
 *       the frame): false if it cannot be read.
 *   const char *ekp_eval_comm(struct ekp_eval_env *env);
 *       EKP_ABI_COMM bytes of the current task's comm (need not be NUL-terminated), or NULL
 *       when there is no task to name (the value faults).
 * and may define EKP_EVAL_READ_ONCE(x) / EKP_EVAL_WRITE_ONCE(x, v), how the probe table is
 * read and the record written (default: the kernel's READ_ONCE/WRITE_ONCE, volatile accesses
 * elsewhere), and EKP_EVAL_INLINE (default: always inlined: the guest's hit path calls nothing).
 *
 * The probe table is untrusted (the host may rewrite it while vCPUs run): every index, size
 * and offset is bounded here, so no program can write outside the record or read outside the
 * probe entry, whatever its contents.
 */
#ifndef EKPROBE_ABI_EVAL_H
#define EKPROBE_ABI_EVAL_H

#ifdef __KERNEL__
#include <linux/compiler.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/ekprobe_abi.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include "abi.h"
#endif

#ifndef EKP_EVAL_READ_ONCE
#ifdef __KERNEL__
#define EKP_EVAL_READ_ONCE(x) READ_ONCE(x)
#define EKP_EVAL_WRITE_ONCE(x, v) WRITE_ONCE(x, v)
#else
#define EKP_EVAL_READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define EKP_EVAL_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#endif
#endif

#ifndef EKP_EVAL_INLINE
#ifdef __KERNEL__
#define EKP_EVAL_INLINE static __always_inline
#else
#define EKP_EVAL_INLINE static inline __attribute__((always_inline))
#endif
#endif

/* The string encoding of a STRING/COMM value: offset | length << 16 | truncated << 31. */
#define EKP_ABI_STR_VALUE(off, len, trunc) \
	((ekp_u64)(off) | (ekp_u64)(len) << 16 | (ekp_u64)((trunc) ? 1 : 0) << 31)

struct ekp_eval_env;

/* data is cleared a word at a time. */
typedef ekp_u64 __attribute__((may_alias)) ekp_eval_word;
_Static_assert(EKP_ABI_DATA % 8 == 0 && offsetof(struct ekp_abi_record, data) % 8 == 0,
	       "record data is whole, aligned words");
_Static_assert(EKP_ABI_MAX_VALUES <= 31, "fault_mask bits; bit 31 of a string value");
_Static_assert(EKP_ABI_DATA < 0x10000, "string offsets and lengths fit 16 bits");

struct ekp_eval_state {
	struct ekp_eval_env *env;
	struct ekp_abi_record *rec;
	unsigned int data_used;   /* bytes of rec->data taken by earlier strings */
};

/*
 * Copy a NUL-terminated string into the record's data after what is there: at most `limit`
 * bytes (0: the space left), without the NUL. As the kernel's kprobe events do
 * (strncpy_from_kernel_nofault over MAX_STRING_SIZE bytes), the string is read up to its NUL
 * but at most EKP_ABI_STR_SCAN bytes, and any byte of those that cannot be read makes the whole
 * value a fault; truncated: it has more characters than were kept, or no NUL in the scan.
 * Returns true and the value in *value, or false (fault: nothing kept, data as it was).
 * comm: read the string from there (EKP_ABI_COMM bytes, then NULs) instead of memory.
 */
EKP_EVAL_INLINE bool ekp_eval_string(struct ekp_eval_state *st, ekp_u64 src, unsigned int limit,
				     const char *comm, ekp_u64 *value)
{
	unsigned int off = st->data_used, room = EKP_ABI_DATA - off, len, kept, k;
	bool trunc = true;	/* unless a NUL comes */

	if (!limit || limit > room)
		limit = room;
	for (len = 0; len < EKP_ABI_STR_SCAN; len++) {
		ekp_u64 c = 0;

		if (comm)
			c = len < EKP_ABI_COMM ? (unsigned char)EKP_EVAL_READ_ONCE(comm[len]) : 0;
		else if (!ekp_eval_load(st->env, src + len, 1, &c))
			goto fault;
		if (!c) {
			trunc = len > limit;
			break;
		}
		if (len < limit)
			EKP_EVAL_WRITE_ONCE(st->rec->data[off + len], (char)c);
	}
	kept = len < limit ? len : limit;
	st->data_used = off + kept;
	*value = EKP_ABI_STR_VALUE(off, kept, trunc);
	return true;
fault:
	for (k = 0; k < len && k < limit; k++)
		EKP_EVAL_WRITE_ONCE(st->rec->data[off + k], 0);
	return false;
}

/*
 * Run probe p's fetch program (at most EKP_ABI_MAX_INSNS instructions, until END or an op this
 * ABI version does not know) into rec: nr_values (the probe's, at most EKP_ABI_MAX_VALUES),
 * values (0 where not stored or faulted), data (0 where not used) and fault_mask. The other
 * fields of rec are the caller's.
 */
EKP_EVAL_INLINE void ekp_abi_eval(struct ekp_eval_env *env, const struct ekp_abi_probe *p,
				  struct ekp_abi_record *rec)
{
	struct ekp_eval_state st = { .env = env, .rec = rec, .data_used = 0 };
	unsigned int i, n = EKP_EVAL_READ_ONCE(p->nr_insns);
	unsigned int nr_values = EKP_EVAL_READ_ONCE(p->nr_values);
	ekp_u32 fault_mask = 0;
	bool fault = false;
	ekp_u64 acc = 0;

	if (nr_values > EKP_ABI_MAX_VALUES)
		nr_values = EKP_ABI_MAX_VALUES;
	EKP_EVAL_WRITE_ONCE(rec->nr_values, nr_values);
	for (i = 0; i < EKP_ABI_MAX_VALUES; i++)
		EKP_EVAL_WRITE_ONCE(rec->values[i], 0);
	for (i = 0; i < EKP_ABI_DATA / 8; i++)
		EKP_EVAL_WRITE_ONCE(((ekp_eval_word *)rec->data)[i], 0);
	if (n > EKP_ABI_MAX_INSNS)
		n = EKP_ABI_MAX_INSNS;
	for (i = 0; i < n; i++) {
		const struct ekp_abi_insn *in = &p->insns[i];
		unsigned int op = EKP_EVAL_READ_ONCE(in->op), size = EKP_EVAL_READ_ONCE(in->size);
		unsigned int slot = EKP_EVAL_READ_ONCE(in->slot);
		ekp_s64 imm = EKP_EVAL_READ_ONCE(in->imm);
		const char *comm;
		ekp_u64 v = 0;

		switch (op) {
		case EKP_OP_END:
			goto out;
		case EKP_OP_REG:
			if (imm < 0 || imm > (ekp_s64)sizeof(struct ekp_abi_regs) - 8 || (imm & 7) ||
			    !ekp_eval_reg(env, (unsigned int)imm, &acc)) {
				fault = true;
				acc = 0;
			}
			break;
		case EKP_OP_IMM:
			acc = (ekp_u64)imm;
			break;
		case EKP_OP_ADD:
			acc += (ekp_u64)imm;
			break;
		case EKP_OP_DEREF:
		case EKP_OP_LOAD:
			if (fault)
				break;
			if (op == EKP_OP_DEREF)
				size = 8;
			if ((size == 1 || size == 2 || size == 4 || size == 8) &&
			    ekp_eval_load(env, acc + (ekp_u64)imm, size, &v)) {
				acc = v;
			} else {
				fault = true;
				acc = 0;
			}
			break;
		case EKP_OP_STORE:
			v = acc;
			goto store;
		case EKP_OP_STRING:
			if (!fault && !ekp_eval_string(&st, acc + (ekp_u64)imm, size, NULL, &v))
				fault = true;
			goto store;
		case EKP_OP_COMM:
			comm = ekp_eval_comm(env);
			fault = !comm || !ekp_eval_string(&st, 0, size, comm, &v);
store:
			if (slot < EKP_ABI_MAX_VALUES) {
				EKP_EVAL_WRITE_ONCE(rec->values[slot], fault ? 0 : v);
				if (fault)
					fault_mask |= 1U << slot;
				else
					fault_mask &= ~(1U << slot);
			}
			fault = false;	/* the next value starts without a fault */
			break;
		default:	/* not an op of this ABI version: stop */
			goto out;
		}
	}
out:
	EKP_EVAL_WRITE_ONCE(rec->fault_mask, fault_mask);
}

#endif
