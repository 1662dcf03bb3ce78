/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure x86_64 half of the exit-less "jump" engine (like the kernel's optprobes): plan a
 * 5-byte `jmp rel32` at an address J inside a function, and build the trampoline it jumps to.
 * No I/O: the caller reads the function's bytes, chooses J and the slot, writes the results.
 *
 * A trampoline slot for n probe indices (1..X86_64_JUMP_MAX_SITE_PROBES: the probes that share
 * one jump site) holds, in order:
 *   1. the save sequence: a struct ekp_abi_regs frame pushed in pt_regs order (ss 0x18, the
 *      probe site's sp, pushfq, cs 0x10, ip = the probe address, orig_ax = the first probe
 *      index, then di si dx cx ax r8 r9 r10 r11 bx bp r12 r13 r14 r15);
 *   2. %rdi = frame, %rbx = frame (callee-saved), %rsp aligned down to 16, %esi = the first
 *      index, `call hit_entry` (rel32);
 *   2'. for each further index (n - 1 times, X86_64_JUMP_CALL_LEN bytes each): `mov %rbx,%rdi;
 *      mov $index,%esi; call hit_entry`: the same frame, %rsp still 16-aligned, in the order
 *      the indices were given;
 *   3. %rsp = %rbx, every general register popped from the frame (a change the handler made
 *      to the frame takes effect), cs/ip/orig_ax skipped, popfq from the frame, sp/ss
 *      skipped: %rsp is the probe site's again (not reloaded from the frame);
 *   4. the displaced instructions, relocated (X86_64_JUMP_COPY_OFFSET(n) from the slot start);
 *   5. `jmp J + displaced_len`, unless the copy ended with ret or an unconditional jmp.
 * It pushes below the probe site's %rsp: fine in the kernel (-mno-red-zone).
 *
 * For the engine: a displaced `call` returns into the slot, and a task may sleep in the
 * handler or in that callee, so a slot that was ever armed must not be reused or rewritten
 * (no synchronize_rcu_tasks() from the host). The trampoline does not clac: a probe inside a
 * stac/clac region runs the handler with EFLAGS.AC as the probed code had it (clac would #UD
 * on CPUs without SMAP; the kernel's optprobes patch a nop into clac only with SMAP).
 */
#ifndef EKPROBE_ARCH_X86_64_JUMP_H
#define EKPROBE_ARCH_X86_64_JUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_64_JUMP_LEN 5                /* e9 rel32 */
#define X86_64_JUMP_MAX_INSNS 5          /* displaced instructions: each >= 1 byte */
#define X86_64_JUMP_MAX_DISPLACED 19     /* last one starts before J + 5, is <= 15 bytes */
#define X86_64_JUMP_MAX_COPY 40          /* relocated copy: rel8 branches grow by 4 */
#define X86_64_JUMP_MAX_SITE_PROBES 16   /* probe indices one trampoline calls the guest for */
#define X86_64_JUMP_CALL_LEN 13          /* a further call: mov %rbx,%rdi; mov $i,%esi; call */
/* The copy's offset in a slot whose trampoline calls the guest for n (>= 1) probe indices:
 * 117 bytes of frame, first call and restore, plus X86_64_JUMP_CALL_LEN per further index. */
#define X86_64_JUMP_COPY_OFFSET(n) (117 + X86_64_JUMP_CALL_LEN * ((n) - 1))
#define X86_64_KERNEL_CS 0x10            /* __KERNEL_CS */
#define X86_64_KERNEL_DS 0x18            /* __KERNEL_DS */
/* Bytes a slot needs for any plan with n probe indices (rounded up to 16: 176 for one);
 * x86_64_trampoline_size() is exact. */
#define X86_64_JUMP_SLOT_BYTES(n) \
	((X86_64_JUMP_COPY_OFFSET(n) + X86_64_JUMP_MAX_COPY + X86_64_JUMP_LEN + 15) / 16 * 16)
/* Bytes a slot needs for any plan and any number of indices (a big enough buffer). */
#define X86_64_JUMP_SLOT_SIZE X86_64_JUMP_SLOT_BYTES(X86_64_JUMP_MAX_SITE_PROBES)

/* Where control must not land inside the displaced bytes, or which bytes must not be moved. */
struct x86_64_jump_busy {
	uint64_t addr;
	uint64_t len;
	const char *what; /* for the reason: "an ftrace site", "an alternative", ... */
};

/* More code whose direct branches must not land in the displaced bytes (e.g. "foo.cold"). */
struct x86_64_jump_code {
	uint64_t addr;
	const uint8_t *code;
	size_t size;
	const char *name; /* may be NULL */
};

struct x86_64_jump_site {
	/* The whole function containing J: its start, name (NULL: shown as an address), bytes. */
	uint64_t func_addr;
	const char *func_name;
	const uint8_t *func;
	size_t func_size;
	uint64_t jump_addr;  /* J: where the jmp goes, an instruction start inside the function */
	uint64_t probe_addr; /* the frame's ip (the probe's address); 0: J */
	uint64_t slot_addr;  /* where the trampoline will be (reach of the jmp and relocations) */
	/*
	 * Optional, from the kernel's tables: byte ranges the displaced instructions must not
	 * overlap (ftrace sites, alternatives, jump labels, static calls, retpoline/return sites,
	 * exception-table instructions: -EBUSY); addresses where control enters the function
	 * other than through its own direct branches (exception fixups, known jump-table
	 * targets), refused inside (J, J + displaced_len) like a branch; more code to scan.
	 */
	const struct x86_64_jump_busy *busy;
	size_t nr_busy;
	const uint64_t *entries;
	size_t nr_entries;
	const struct x86_64_jump_code *more_code;
	size_t nr_more_code;
	/* Optional: a jmp/jcc into [thunk_start, thunk_end) (retpoline thunks) is indirect. */
	uint64_t thunk_start, thunk_end;
};

enum x86_64_jump_kind {
	X86_64_JUMP_INSN_PLAIN,  /* copied as is */
	X86_64_JUMP_INSN_RIPREL, /* copied, its disp32 at disp_off re-aimed at the same target */
	X86_64_JUMP_INSN_JCC,    /* re-encoded 0f 8x rel32 to target */
	X86_64_JUMP_INSN_JMP,    /* re-encoded e9 rel32 to target; ends the copy */
	X86_64_JUMP_INSN_CALL,   /* re-encoded e8 rel32 to target (returns into the slot) */
	X86_64_JUMP_INSN_RET,    /* copied as is; ends the copy */
	X86_64_JUMP_INSN_DEAD,   /* after a ret/jmp: overwritten, never executed, not copied */
};

struct x86_64_jump_insn {
	uint64_t addr;
	uint8_t len;
	uint8_t kind;     /* enum x86_64_jump_kind */
	uint8_t cc;       /* JCC: the condition (low nibble of the opcode) */
	uint8_t disp_off; /* RIPREL: offset of the disp32 in bytes[] */
	uint64_t target;  /* JCC/JMP/CALL: branch target; RIPREL: the memory operand's address */
	uint8_t bytes[16];
	char text[80];    /* Capstone, AT&T syntax: "movq %rsp, 0x10(%rip)" */
};

struct x86_64_jump_plan {
	uint64_t func_addr;
	uint64_t func_size;
	uint64_t jump_addr;
	uint64_t probe_addr;
	uint64_t slot_addr;      /* the slot the plan was checked for */
	uint32_t displaced_len;  /* >= 5: the jmp and what is left of the last instruction */
	uint32_t nr_insns;       /* displaced instructions, dead ones included */
	bool falls_through;      /* the copy needs the jump back to J + displaced_len */
	uint32_t copy_len;       /* the relocated copy's bytes (no jump back) */
	char where[96];          /* J for reasons: "do_foo+0x5" */
	struct x86_64_jump_insn insns[X86_64_JUMP_MAX_INSNS];
	uint8_t orig[X86_64_JUMP_MAX_DISPLACED]; /* the displaced bytes, for restoring J */
};

/* True for what a function start holds at an ftrace site: `call rel32` or `nopl 0(%rax,%rax)`. */
bool x86_64_is_fentry_site(const uint8_t *code, size_t len);

/* e9 rel32 at `from` jumping to `to`: 0, or -ERANGE (reason set) when rel32 cannot reach. */
int x86_64_encode_jmp5(uint64_t from, uint64_t to, uint8_t out[X86_64_JUMP_LEN]);

/*
 * Check a jump site and decode what it displaces. 0, or a negative errno with the reason
 * ("jump site at foo+0x5: ..."): -EINVAL bad arguments; -EILSEQ the function does not decode
 * or J is not an instruction start; -ENOSPC fewer than 5 bytes from J to the function's end;
 * -EOPNOTSUPP an instruction that cannot run elsewhere, or an indirect jump in the function;
 * -EBUSY a branch or entry into the displaced bytes, int3 (a breakpoint?), a busy range;
 * -ERANGE the slot too far for the jmp or a relocated operand (checked for a one-index
 * trampoline; x86_64_build_trampoline() re-checks for more).
 */
int x86_64_jump_plan(const struct x86_64_jump_site *site, struct x86_64_jump_plan *plan);

/*
 * The relocated copy of the displaced instructions placed at copy_addr (no jump back):
 * 0 and *len, -ERANGE (a target or memory operand out of rel32/disp32 reach), -ENOSPC.
 */
int x86_64_jump_relocate(const struct x86_64_jump_plan *plan, uint64_t copy_addr, uint8_t *out,
			 size_t outlen, size_t *len);

/* Exact bytes x86_64_build_trampoline() writes for this plan with nr_indices probe indices
 * (0 when nr_indices is not 1..X86_64_JUMP_MAX_SITE_PROBES). */
size_t x86_64_trampoline_size(const struct x86_64_jump_plan *plan, size_t nr_indices);

/*
 * Write the trampoline for plan at slot_addr (normally plan->slot_addr; another address, or a
 * copy moved by more than one index, is re-checked) into buf. It calls hit_entry once for
 * each of indices[0..nr_indices) in that order, with the same frame; the frame's orig_ax is
 * indices[0]. 0 and *len, -ENOSPC (buflen too small), -ERANGE (hit_entry, the jump back or a
 * relocated operand out of reach), -EINVAL (bad arguments, nr_indices not
 * 1..X86_64_JUMP_MAX_SITE_PROBES).
 */
int x86_64_build_trampoline(const struct x86_64_jump_plan *plan, uint64_t slot_addr,
			    uint64_t hit_entry, const uint32_t *indices, size_t nr_indices,
			    uint8_t *buf, size_t buflen, size_t *len);

#endif
