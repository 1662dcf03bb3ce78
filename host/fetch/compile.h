/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jump engine's fetch-args: a probe's arguments compiled into the fetch program of the
 * host/guest ABI (include/ekprobe/abi.h), which the guest runs at each hit, and the record it
 * fills turned back into the struct ekp_value that the trap engine's ekp_fetch_arg()
 * (host/fetch/eval.c) computes for the same registers and memory. Both are pure.
 *
 * Program semantics (the guest runs include/ekprobe/abi_eval.h, which
 * tests/unit/test_fetch_compile.c runs too). State: acc = 0, faulted = false, a data cursor
 * at 0. Instructions run in order up to nr_insns or the first EKP_OP_END.
 *   REG     acc = the struct ekp_abi_regs word at byte offset imm
 *   IMM     acc = imm                      ADD   acc += imm (mod 2^64)
 *   DEREF   unless faulted: acc = 8-byte load at acc + imm; a failed load sets faulted
 *   LOAD    unless faulted: acc = `size`-byte (1 2 4 8) load at acc + imm, zero-extended;
 *           a failed load sets faulted
 *   STORE   faulted: values[slot] = 0 and fault_mask bit slot; else values[slot] = acc.
 *           Then faulted = false.
 *   STRING  faulted: as STORE. Else read the string at acc + imm up to its NUL, at most
 *           EKP_ABI_STR_SCAN bytes, keeping the first `size` bytes in data[cursor..]:
 *           - a byte of those read cannot be read: values[slot] = 0 and fault_mask bit slot
 *             (as the kernel's strncpy_from_kernel_nofault: the whole string faults);
 *           - otherwise values[slot] = cursor | kept << 16 | truncated << 31, where
 *             truncated = more characters than kept, or no NUL in the scan; cursor += kept.
 *           (The trap engine reads strings the same way, keeping up to 255 bytes.)
 *           Then faulted = false.
 *   COMM    as STRING, of current->comm (at most `size` bytes).
 * A record's nr_values is the probe's nr_values. The host guarantees: the string and comm
 * sizes of one program add up to at most EKP_ABI_DATA, slots are < nr_values <=
 * EKP_ABI_MAX_VALUES, each slot is written by exactly one STORE/STRING/COMM.
 *
 * Slots: the arguments in order, 1 slot per argument, TYPE[N] arrays N slots, immediate
 * strings (\"str") none (the host has the text).
 *
 * Where the engines differ, by construction: strings get a share of the record's
 * EKP_ABI_DATA bytes (all strings of a probe split what $comm leaves, each at most
 * EKP_ABI_DATA), the trap engine up to 255 bytes; a longer string ends in "..." earlier.
 * A faulting value is { err = -EFAULT, count = 1, rest 0 } here; the trap engine may leave
 * partial array elements behind the error, which no sink prints.
 */
#ifndef EKPROBE_HOST_FETCH_COMPILE_H
#define EKPROBE_HOST_FETCH_COMPILE_H

#include <stddef.h>

#include "ekprobe/abi.h"
#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "host/event.h"

/* How one argument's value lies in a record's values[]. */
enum ekp_fetch_slot_kind {
	EKP_FETCH_SLOT_NONE,   /* immediate string: no slot (the host has the text) */
	EKP_FETCH_SLOT_INT,    /* count slots of integers */
	EKP_FETCH_SLOT_STRING, /* one STRING slot */
	EKP_FETCH_SLOT_COMM,   /* one COMM slot */
};

struct ekp_fetch_slot {
	enum ekp_fetch_slot_kind kind;
	unsigned int first, count;
};

/*
 * A probe's record layout, computed once per probe (by ekp_fetch_compile() or
 * ekp_fetch_decoder_init()) and used for every record of it: the drain path does no planning.
 * It points to the probe (types, immediate strings), which must outlive it. Plain data: keep
 * it next to the compiled struct ekp_abi_probe, no free needed.
 */
struct ekp_fetch_decoder {
	const struct ekp_probe *probe;
	unsigned int nr_args;     /* values ekp_fetch_from_record() writes: one per argument */
	unsigned int nr_values;   /* record value slots (<= EKP_ABI_MAX_VALUES) */
	unsigned int nr_strings, nr_comms;
	struct ekp_fetch_slot slot[EKP_MAX_ARGS];
};

/*
 * Compile p's arguments into out (addr = p->addr, flags ACTIVE and, for a return probe,
 * RETURN; missed and check 0: the engine sets check) and, unless dec is NULL, set up *dec for
 * decoding p's records. The probe must be resolved (its address and every @SYM).
 * Returns 0, or -EINVAL/-EOPNOTSUPP/-E2BIG when this probe cannot run on the jump engine,
 * with the reason through ekp_err(), e.g. "needs 20 values; a jump-engine record holds
 * 16". out and *dec are zeroed first and unusable after a failure.
 */
int ekp_fetch_compile(const struct ekp_probe *p, const struct ekp_arch *arch,
		      struct ekp_abi_probe *out, struct ekp_fetch_decoder *dec);

/* The decoder alone (no program): 0, or -E2BIG/-EINVAL with the reason through ekp_err(). */
int ekp_fetch_decoder_init(struct ekp_fetch_decoder *d, const struct ekp_probe *p);

/*
 * Decode a record of d's probe (already matched to it: r->probe is its table index) into
 * values[0 .. d->nr_args - 1], the same contents as ekp_fetch_arg() gives (see above for
 * faults). nr_values is the capacity of values: a probe with more arguments than that is
 * refused with -E2BIG, so no caller's array can overflow (immediate strings take no record
 * slot, so a probe can have up to EKP_MAX_ARGS arguments for EKP_ABI_MAX_VALUES slots: size
 * the array EKP_MAX_ARGS). Returns 0, -E2BIG, -EINVAL (d not set up), or -EPROTO (ekp_err()
 * says why) when the record does not fit the program: wrong nr_values, a fault bit outside
 * nr_values, a string outside data. Never reads outside *r, never writes past values[nr_values].
 */
int ekp_fetch_from_record(const struct ekp_fetch_decoder *d, const struct ekp_abi_record *r,
			  struct ekp_value *values, unsigned int nr_values);

/* The string encoding of a value slot (abi.h, EKP_OP_STRING). */
#define EKP_FETCH_STR_OFF(v) ((unsigned int)((v) & 0xffff))
#define EKP_FETCH_STR_LEN(v) ((unsigned int)(((v) >> 16) & 0x7fff))
#define EKP_FETCH_STR_TRUNC(v) ((unsigned int)(((v) >> 31) & 1))
#define EKP_FETCH_STR_VALUE(off, len, trunc) \
	((ekp_u64)(off) | (ekp_u64)(len) << 16 | (ekp_u64)((trunc) ? 1 : 0) << 31)

#endif
