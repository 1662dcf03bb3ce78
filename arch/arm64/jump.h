/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure arm64 half of the exit-less "jump" engine: plan a 4-byte `B` at an instruction J
 * inside a function, relocate the one instruction it displaces as the kernel's arm64 kprobes
 * simulate it, and build the trampoline the B jumps to. No I/O: the caller reads the function,
 * chooses J and the slot, writes the results.
 *
 * A trampoline slot for n probe indices (1..ARM64_JUMP_MAX_SITE_PROBES) holds, in order:
 *   1. the save sequence: sp -= 288, a struct ekp_abi_regs_arm64 frame (abi_arm64.h: x0..x30,
 *      sp = the probe site's, pc = the probe address from a literal, pstate = NZCV | DAIF |
 *      CurrentEL | SPSel, orig_x0 = the first index, 0);
 *   2. per index: x0 = sp (the frame), x1 = index, `bl hit_entry`: the same frame each time
 *      (sp is preserved by the callee, the frame is at sp);
 *   3. NZCV from the frame's pstate, x0..x30 from the frame (a change the handler made takes
 *      effect: a return probe's new x30), sp += 288: sp is the probe site's again;
 *   4. the displaced instruction, relocated (ARM64_JUMP_COPY_OFFSET(n) from the slot start);
 *   5. `b J + 4`, unless the relocated form branches itself;
 *   6. the 8-byte literals (8-aligned): the probe address, and a relocation's value.
 * The frame is below the probe site's sp, which stays 16-byte aligned (288 = 18 * 16); the
 * kernel has no red zone.
 *
 * Relocations (what arch/arm64/kernel/probes/simulate-insn.c simulates, done with branches):
 *   B T          -> b T
 *   BL T         -> ldr x30, =J+4; b T          (the callee returns to J + 4, as it would)
 *   B.cond T     -> b.cond 1f; b J+4; 1: b T    (CBZ/CBNZ Rt, TBZ/TBNZ Rt,#bit alike)
 *   ADR Xd, T    -> ldr Xd, =T; b J+4            (ADRP: the page of T)
 *   LDR Wt/Xt, =A, LDRSW Xt, =A -> ldr Xt, =A; ldr Wt/Xt, [Xt] (ldrsw Xt, [Xt]); b J+4
 *   anything else that does not read the PC: copied as is; b J+4
 * Refused, with the reason: LDR literal into a SIMD&FP register and PRFM literal (they need a
 * scratch register; the kernel's kprobes refuse them too), load/store-exclusive instructions
 * and any instruction inside an exclusive-monitor sequence (the trampoline's stores clear the
 * monitor: the store-exclusive would fail for ever), exception-generating instructions (SVC,
 * HVC, SMC, BRK: BUG() and kgdb look their address up; HLT, DCPS), ERET, and what does not
 * decode.
 *
 * For the engine: the slot must never be reused or rewritten once armed (a task may sleep in
 * the handler or in the displaced BLR's callee, which returns into the slot).
 */
#ifndef EKPROBE_ARCH_ARM64_JUMP_H
#define EKPROBE_ARCH_ARM64_JUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM64_INSN_NOP 0xd503201fu
#define ARM64_JUMP_LEN 4                 /* one B */
#define ARM64_JUMP_MAX_SITE_PROBES 16    /* probe indices one trampoline calls the guest for */
#define ARM64_JUMP_FRAME 288             /* EKP_ABI_ARM64_FRAME_SIZE */
#define ARM64_JUMP_MAX_COPY 4            /* relocated instructions, the jump back included */
#define ARM64_JUMP_SAVE_INSNS 29         /* step 1, up to the first index's call */
#define ARM64_JUMP_CALL_INSNS 3          /* step 2, per index */
#define ARM64_JUMP_RESTORE_INSNS 19      /* step 3 */
/* The copy's offset in a slot whose trampoline calls the guest for n (>= 1) indices. */
#define ARM64_JUMP_COPY_OFFSET(n) \
	(4 * (ARM64_JUMP_SAVE_INSNS + ARM64_JUMP_CALL_INSNS * (n) + ARM64_JUMP_RESTORE_INSNS))
/* Bytes of any trampoline with n indices: code, padding to 8, two literals. */
#define ARM64_JUMP_SLOT_BYTES(n) (ARM64_JUMP_COPY_OFFSET(n) + 4 * ARM64_JUMP_MAX_COPY + 4 + 16)
#define ARM64_JUMP_SLOT_SIZE ARM64_JUMP_SLOT_BYTES(ARM64_JUMP_MAX_SITE_PROBES)

enum arm64_insn_kind {
	ARM64_INSN_PLAIN,   /* copied as is */
	ARM64_INSN_B,       /* b target */
	ARM64_INSN_BL,      /* bl target */
	ARM64_INSN_BCOND,   /* b.cond / bc.cond target */
	ARM64_INSN_CB,      /* cbz / cbnz rt, target */
	ARM64_INSN_TB,      /* tbz / tbnz rt, #bit, target */
	ARM64_INSN_ADR,     /* adr xd, target */
	ARM64_INSN_ADRP,    /* adrp xd, target (a 4 KiB page) */
	ARM64_INSN_LDR_LIT, /* ldr wt / ldr xt / ldrsw xt, [target] */
};

struct arm64_jinsn {
	uint32_t insn;
	uint64_t pc;       /* where it is (J) */
	uint8_t kind;      /* enum arm64_insn_kind */
	uint8_t rt;        /* CB, TB, ADR, ADRP, LDR_LIT: the register */
	uint8_t lit_size;  /* LDR_LIT: 4 (ldr wt), 8 (ldr xt), 0 for ldrsw (4, sign-extended) */
	uint64_t target;   /* branch target, ADR/ADRP value, literal address */
};

/* Load-exclusive (LDXR, LDAXR, LDXP, LDAXP, any size) / store-exclusive (STXR, STLXR, STXP,
 * STLXP): the instructions of an exclusive-monitor sequence (not CAS, LDAR, STLR). */
bool arm64_insn_is_load_exclusive(uint32_t insn);
bool arm64_insn_is_store_exclusive(uint32_t insn);

/*
 * What the instruction at pc is for relocation: 0 and *out, or -EOPNOTSUPP with the reason
 * through ekp_err() (refused: the list above, without the exclusive-sequence scan).
 */
int arm64_insn_decode(uint32_t insn, uint64_t pc, struct arm64_jinsn *out);

/* b / bl at `from` to `to`: 0, or -ERANGE (+-128 MiB) / -EINVAL (not 4-aligned). */
int arm64_encode_b(uint64_t from, uint64_t to, bool link, uint32_t *out);

/* ldr xt, <the 8 bytes at lit> placed at from: 0, or -ERANGE (+-1 MiB) / -EINVAL. */
int arm64_encode_ldr_lit(unsigned int rt, uint64_t from, uint64_t lit, uint32_t *out);

/*
 * The relocated form of in placed at copy_addr, its literal (if any) at lit_addr: the words
 * into out[0..*n) (ARM64_JUMP_MAX_COPY at most, the jump back included), *lit and *has_lit.
 * 0, or -ERANGE with the reason (a branch or literal load out of reach).
 */
int arm64_jump_relocate(const struct arm64_jinsn *in, uint64_t copy_addr, uint64_t lit_addr,
			uint32_t out[ARM64_JUMP_MAX_COPY], size_t *n, uint64_t *lit, bool *has_lit);

struct arm64_jump_site {
	uint64_t func_addr;      /* the function containing J: start, name (NULL: an address) */
	const char *func_name;
	const uint8_t *func;     /* its bytes */
	size_t func_size;
	uint64_t jump_addr;      /* J */
	uint64_t probe_addr;     /* the frame's pc; 0: J */
	uint64_t slot_addr;      /* where the trampoline will be */
};

struct arm64_jump_plan {
	uint64_t jump_addr;
	uint64_t probe_addr;
	uint64_t slot_addr;
	struct arm64_jinsn insn;  /* the displaced instruction */
	uint8_t orig[ARM64_JUMP_LEN];
	char text[64];           /* Capstone's text of it: "ldxr w1, [x0]" */
	char where[96];          /* J for reasons: "do_foo+0x8" */
};

/*
 * Check a jump site and decode what it displaces: 0, or -errno with the reason ("jump site at
 * foo+0x8 (ldxr w1, [x0]): ..."): -EINVAL bad arguments, J not 4-aligned or outside the
 * function; -EILSEQ the instruction does not decode; -EOPNOTSUPP refused (the list above,
 * and an exclusive-monitor sequence: a load-exclusive among the up to 16 instructions before
 * J with no store-exclusive after it); -ERANGE the slot beyond B's reach or a relocation's.
 */
int arm64_jump_plan(const struct arm64_jump_site *site, struct arm64_jump_plan *plan);

/* Exact bytes arm64_build_trampoline() writes for nr indices (0: nr out of range). */
size_t arm64_trampoline_size(const struct arm64_jump_plan *plan, size_t nr);

/*
 * The trampoline for plan at slot_addr (16-aligned) calling hit_entry for indices[0..nr) in
 * that order with one frame: 0 and *len, -ENOSPC (buflen), -ERANGE (hit_entry, the copy, the
 * jump back out of reach), -EINVAL (bad arguments; an index above 65535).
 */
int arm64_build_trampoline(const struct arm64_jump_plan *plan, uint64_t slot_addr,
			   uint64_t hit_entry, const uint32_t *indices, size_t nr, uint8_t *buf,
			   size_t buflen, size_t *len);

/*
 * What the kernel rewrites in its own text, and where a jump must not go, read from a
 * vmlinux's tables (pure: the caller copies the raw table bytes out of the image). All input
 * is untrusted: sizes are bounded, entries outside the kernel's text are ignored.
 */
struct arm64_text_raw {
	uint64_t mcount_addr;     /* __start_mcount_loc: 8-byte addresses of patchable entries */
	const uint8_t *mcount;
	size_t mcount_len;
	uint64_t alt_addr;        /* __alt_instructions: struct alt_instr (12 bytes each) */
	const uint8_t *alt;
	size_t alt_len;
	uint64_t jump_addr;       /* __start___jump_table: struct jump_entry (16 bytes each) */
	const uint8_t *jump;
	size_t jump_len;
	const uint8_t *blacklist; /* __start_kprobe_blacklist: 8-byte function addresses */
	size_t blacklist_len;
};

struct arm64_range {
	uint64_t start, end;      /* [start, end) */
	const char *what;
};

struct arm64_text_tables {
	uint64_t *mcount;         /* sorted patchable-entry addresses (the first of 2 NOPs) */
	size_t nr_mcount;
	struct arm64_range *busy; /* sorted by start: alternatives and jump labels */
	size_t nr_busy;
	uint64_t *blacklist;      /* sorted function addresses */
	size_t nr_blacklist;
};

int arm64_text_tables_parse(const struct arm64_text_raw *raw, struct arm64_text_tables *out);
void arm64_text_tables_free(struct arm64_text_tables *t);
/* The patchable entry (ftrace's 2 NOPs) at addr, or containing addr: its start, or 0. */
uint64_t arm64_text_mcount_at(const struct arm64_text_tables *t, uint64_t addr);
/* A busy range overlapping [addr, addr + len): it, or NULL. */
const struct arm64_range *arm64_text_busy(const struct arm64_text_tables *t, uint64_t addr,
					  uint64_t len);
bool arm64_text_blacklisted(const struct arm64_text_tables *t, uint64_t func_addr);

#endif
