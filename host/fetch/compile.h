/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jump engine's fetch-args: a probe's arguments compiled into the fetch program of the
 * host/guest ABI (include/ekprobe/abi.h), which the guest runs at each hit, and the record it
 * fills turned back into the struct ekp_value that the trap engine's ekp_fetch_arg()
 * (host/fetch/eval.c) computes for the same registers and memory. Both are pure.
 *
 * Program semantics (what the guest interpreter implements; tests/unit/test_fetch_compile.c
 * has a reference interpreter). State: acc = 0, faulted = false, a data cursor at 0.
 * Instructions run in order up to nr_insns or the first EKP_OP_END.
 *   REG     acc = the struct ekp_abi_regs word at byte offset imm
 *   IMM     acc = imm                      ADD   acc += imm (mod 2^64)
 *   DEREF   unless faulted: acc = 8-byte load at acc + imm; a failed load sets faulted
 *   LOAD    unless faulted: acc = `size`-byte (1 2 4 8) load at acc + imm, zero-extended;
 *           a failed load sets faulted
 *   STORE   faulted: values[slot] = 0 and fault_mask bit slot; else values[slot] = acc.
 *           Then faulted = false.
 *   STRING  faulted: as STORE. Else copy the bytes at acc + imm, one at a time, up to (not
 *           including) a NUL, at most `size` bytes, to data[cursor..]:
 *           - the first byte cannot be read: values[slot] = 0 and fault_mask bit slot;
 *           - otherwise values[slot] = cursor | length << 16 | truncated << 31, where
 *             truncated = a byte could not be read before the NUL, or after `size` bytes
 *             the next one (read, not copied) is not a NUL or cannot be read;
 *             cursor += length. (The trap engine reads strings the same way.)
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

/*
 * Compile p's arguments into out (addr = p->addr, flags ACTIVE and, for a return probe,
 * RETURN; missed 0). The probe must be resolved (its address and every @SYM).
 * Returns 0, or -EINVAL/-EOPNOTSUPP/-E2BIG when this probe cannot run on the jump engine,
 * with the reason in why (and ekp_err()), e.g. "needs 20 values; a jump-engine record holds
 * 16". out is zeroed first and unusable after a failure.
 */
int ekp_fetch_compile(const struct ekp_probe *p, const struct ekp_arch *arch,
		      struct ekp_abi_probe *out, char *why, size_t whylen);

/*
 * Decode a record of p (already matched to p: r->probe is p's index) into values[p->nr_args],
 * the same contents as ekp_fetch_arg() gives (see above for faults). Returns 0, or -EPROTO
 * (ekp_err() says why) when the record does not fit p's program: wrong nr_values, a fault
 * bit outside nr_values, a string outside data. Never reads outside *r.
 */
int ekp_fetch_from_record(const struct ekp_probe *p, const struct ekp_abi_record *r,
			  struct ekp_value *values);

/* The string encoding of a value slot (abi.h, EKP_OP_STRING). */
#define EKP_FETCH_STR_OFF(v) ((unsigned int)((v) & 0xffff))
#define EKP_FETCH_STR_LEN(v) ((unsigned int)(((v) >> 16) & 0x7fff))
#define EKP_FETCH_STR_TRUNC(v) ((unsigned int)(((v) >> 31) & 1))
#define EKP_FETCH_STR_VALUE(off, len, trunc) \
	((ekp_u64)(off) | (ekp_u64)(len) << 16 | (ekp_u64)((trunc) ? 1 : 0) << 31)

#endif
