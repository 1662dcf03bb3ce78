// SPDX-License-Identifier: GPL-2.0
/*
 * x86_64 jump-site planning, after the kernel's optprobes (arch/x86/kernel/kprobes/opt.c):
 * decode the whole function linearly (x86_64_insn_len, with its Capstone 4 corrections), take
 * the whole instructions from J covering 5 bytes, and refuse what a 5-byte jmp and a copy of
 * those instructions elsewhere would break:
 *
 * - a direct branch (jmp, jcc, loop, call) anywhere in the function, or in more_code, or an
 *   entry the caller knows of, landing in (J, J + displaced_len): it would land inside the jmp;
 * - any indirect jump in the function (a jump table may hold such a target), and a jmp/jcc
 *   into the retpoline thunks when the caller gives their range;
 * - an int3 that is not padding after an unconditional transfer: it may be somebody's live
 *   breakpoint over an instruction's first byte, so the linear decode cannot be trusted;
 * - displaced instructions that cannot run at another address: int3; ud0/ud1/ud2 (BUG() and
 *   WARN() find their bug-table entry by the faulting address: a WARN would become an oops);
 *   loop/jrcxz/jecxz (no rel32 form); far call/jmp/ret; iret, sysret, syscall, sysenter,
 *   sysexit, swapgs, int n, into, int1 (entry/exit code: a C call there is unsafe anyway);
 *   xbegin (relative fallback address); endbr64/endbr32 (with IBT, indirect branches must
 *   land on it, and would land on the jmp); anything naming %rip other than a memory operand or
 *   a relative jmp/jcc/call; a relative branch with an operand-size prefix (its length
 *   differs between Intel and AMD); what Capstone 4 cannot decode;
 * - an interrupt shadow moved: sti or mov to %ss right before J (the shadow would cover the
 *   jmp, not the instruction it protects, e.g. sti; hlt) or as the last copied instruction
 *   before the jump back;
 * - busy ranges the caller gives (ftrace sites, alternatives, ...) overlapping the bytes;
 * - the slot out of rel32 reach of J, or of a relocated branch target or RIP-relative operand.
 *
 * Relocation: jcc/jmp rel8 become rel32, call rel32 keeps its target (the callee returns into
 * the slot), RIP-relative memory operands get a new disp32. The copy stops after ret or an
 * unconditional jmp; the displaced bytes after it are dead (no branch may land there).
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/jump.h"
#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"

bool x86_64_is_fentry_site(const uint8_t *code, size_t len)
{
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

	if (!code || len < X86_64_JUMP_LEN)
		return false;
	return code[0] == 0xe8 || !memcmp(code, nop5, sizeof(nop5));
}

/* What the raw bytes say, independently of Capstone's detail. */
enum raw_kind {
	R_OTHER,
	R_JCC,		/* 70-7f rel8, 0f 80-8f rel32 */
	R_JMP,		/* eb rel8, e9 rel32 */
	R_CALL,		/* e8 rel32 */
	R_LOOP,		/* e0-e3: loopne, loope, loop, jrcxz */
	R_BADBRANCH,	/* a relative branch with an operand-size prefix or odd length */
	R_RET,		/* c3, c2 */
	R_INT3,		/* cc */
	R_UD,		/* 0f 0b, 0f b9, 0f ff */
	R_JMP_IND,	/* ff /4 */
	R_JMP_FAR,	/* ff /5 */
	R_CALL_IND,	/* ff /2 */
	R_CALL_FAR,	/* ff /3 */
	R_XBEGIN,	/* c7 f8 */
	R_STI,		/* fb */
	R_MOV_SS,	/* 8e /2 */
	R_SYSTEM,	/* retf, iret, int n, into, int1, syscall, sysret, sysenter, sysexit, swapgs */
	R_ENDBR,	/* f3 0f 1e fa/fb */
};

struct raw {
	enum raw_kind kind;
	uint8_t cc;
	uint64_t target;	/* relative branches */
	bool ends;		/* no fall-through: ret, jmp, int3, ud, iret... (padding may follow) */
	size_t modrm;		/* offset of the ModRM byte, or 0 if not known */
};

static bool legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
	case 0xf0: case 0xf2: case 0xf3:
		return true;
	}
	return false;
}

static int32_t get32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

/* Classify the n-byte instruction c at addr (n from x86_64_insn_len). */
static void classify(const uint8_t *c, size_t n, uint64_t addr, struct raw *r)
{
	bool p66 = false, pf3 = false, hints_only = true;
	size_t i = 0, rel_at = 0, rel_size = 0;
	uint8_t b, b2;

	memset(r, 0, sizeof(*r));
	while (i < n && legacy_prefix(c[i])) {
		p66 |= c[i] == 0x66;
		pf3 |= c[i] == 0xf3;
		/* Branch hints (2e, 3e) and bnd (f2) mean nothing to a relative branch's target. */
		hints_only &= c[i] == 0x2e || c[i] == 0x3e || c[i] == 0xf2;
		i++;
	}
	if (i < n && (c[i] & 0xf0) == 0x40)
		i++;
	if (i >= n)
		return;
	b = c[i];
	b2 = i + 1 < n ? c[i + 1] : 0;
	switch (b) {
	case 0xc4: case 0xc5: case 0x62: /* VEX, EVEX: never a branch */
		r->modrm = i + (b == 0xc5 ? 3 : b == 0xc4 ? 4 : 5);
		return;
	case 0x70 ... 0x7f:
		r->kind = R_JCC, r->cc = b & 0xf, rel_at = i + 1, rel_size = 1;
		break;
	case 0xeb:
		r->kind = R_JMP, rel_at = i + 1, rel_size = 1;
		break;
	case 0xe9:
		r->kind = R_JMP, rel_at = i + 1, rel_size = 4;
		break;
	case 0xe8:
		r->kind = R_CALL, rel_at = i + 1, rel_size = 4;
		break;
	case 0xe0 ... 0xe3:
		r->kind = R_LOOP, rel_at = i + 1, rel_size = 1;
		break;
	case 0xc2: case 0xc3:
		r->kind = R_RET, r->ends = true;
		return;
	case 0xca: case 0xcb: case 0xcf: /* retf, iret */
		r->kind = R_SYSTEM, r->ends = true;
		return;
	case 0xcd: case 0xce: case 0xf1: /* int n, into, int1 */
		r->kind = R_SYSTEM;
		return;
	case 0xcc:
		r->kind = R_INT3, r->ends = true;
		return;
	case 0xfb:
		r->kind = R_STI;
		return;
	case 0x8e:
		r->modrm = i + 1;
		if (((b2 >> 3) & 7) == 2)
			r->kind = R_MOV_SS;
		return;
	case 0xc7:
		r->modrm = i + 1;
		if (b2 == 0xf8) {
			r->kind = R_XBEGIN, rel_at = i + 2, rel_size = 4;
			break;
		}
		return;
	case 0xff:
		r->modrm = i + 1;
		switch ((b2 >> 3) & 7) {
		case 2: r->kind = R_CALL_IND; break;
		case 3: r->kind = R_CALL_FAR; break;
		case 4: r->kind = R_JMP_IND, r->ends = true; break;
		case 5: r->kind = R_JMP_FAR, r->ends = true; break;
		}
		return;
	case 0x0f:
		if (b2 >= 0x80 && b2 <= 0x8f) {
			r->kind = R_JCC, r->cc = b2 & 0xf, rel_at = i + 2, rel_size = 4;
			break;
		}
		switch (b2) {
		case 0x0b: case 0xb9: case 0xff: /* ud2, ud1, ud0 */
			r->kind = R_UD, r->ends = true;
			return;
		case 0x05: case 0x07: case 0x34: case 0x35: /* syscall sysret sysenter sysexit */
			r->kind = R_SYSTEM, r->ends = b2 != 0x05 && b2 != 0x34;
			return;
		case 0x01:
			if (i + 2 < n && c[i + 2] == 0xf8) /* swapgs */
				r->kind = R_SYSTEM;
			r->modrm = i + 2;
			return;
		case 0x38: case 0x3a:
			r->modrm = i + 3;
			return;
		case 0x1e:
			if (pf3 && i + 3 == n && (c[i + 2] == 0xfa || c[i + 2] == 0xfb))
				r->kind = R_ENDBR;
			break;
		}
		r->modrm = i + 2;
		return;
	default:
		r->modrm = i + 1; /* right when the opcode has a ModRM byte; checked before use */
		return;
	}
	/* A relative branch: its displacement ends the instruction. */
	if (p66 || (r->kind != R_XBEGIN && !hints_only) || rel_at + rel_size != n) {
		r->kind = R_BADBRANCH;
		return;
	}
	r->target = addr + n + (uint64_t)(int64_t)(rel_size == 1 ? (int8_t)c[rel_at]
								  : get32(c + rel_at));
	r->ends = r->kind == R_JMP;
}

/* snprintf that may cut (reasons and texts are bounded on purpose). */
static void fmt_cut(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fmt_cut(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(buf, n, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
}

struct ctx {
	const struct x86_64_jump_site *site;
	struct x86_64_jump_plan *plan;
	csh cs;
	cs_insn *ci;
	char where[96];
};

/* "name+0x12" inside the function or more_code, else the address. */
static void fmt_addr(const struct ctx *x, uint64_t a, char *buf, size_t n)
{
	const struct x86_64_jump_site *s = x->site;

	if (s->func_name && a >= s->func_addr && a - s->func_addr <= s->func_size) {
		snprintf(buf, n, "%s+0x%" PRIx64, s->func_name, a - s->func_addr);
		return;
	}
	for (size_t i = 0; i < s->nr_more_code; i++) {
		const struct x86_64_jump_code *m = &s->more_code[i];

		if (m->name && a >= m->addr && a - m->addr <= m->size) {
			snprintf(buf, n, "%s+0x%" PRIx64, m->name, a - m->addr);
			return;
		}
	}
	snprintf(buf, n, "0x%" PRIx64, a);
}

static int site_err(const struct ctx *x, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int site_err(const struct ctx *x, int err, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	return ekp_err(err, "jump site at %s: %s", x->where, msg);
}

/* Capstone's decode of the instruction at code (n bytes at addr): true and x->ci, or false. */
static bool cs_decode(struct ctx *x, const uint8_t *code, size_t n, uint64_t addr)
{
	const uint8_t *p = code;
	size_t left = n;
	uint64_t a = addr;

	return cs_disasm_iter(x->cs, &p, &left, &a, x->ci) && x->ci->size == n;
}

/* "jmpq *%rax at foo+0x40", or the bytes when Capstone cannot say. */
static void fmt_insn(struct ctx *x, const uint8_t *code, size_t n, uint64_t addr, char *buf,
		     size_t size)
{
	char at[64];

	fmt_addr(x, addr, at, sizeof(at));
	if (cs_decode(x, code, n, addr)) {
		fmt_cut(buf, size, "%s%s%s at %s", x->ci->mnemonic, x->ci->op_str[0] ? " " : "",
			 x->ci->op_str, at);
		return;
	}
	snprintf(buf, size, "the %zu-byte instruction %02x%s at %s", n, code[0],
		 n > 1 ? "..." : "", at);
}

static bool in_displaced(const struct ctx *x, uint64_t a)
{
	uint64_t j = x->plan->jump_addr;

	return a > j && a - j < x->plan->displaced_len;
}

static bool in_thunks(const struct ctx *x, uint64_t a)
{
	return x->site->thunk_start < x->site->thunk_end && a >= x->site->thunk_start &&
	       a < x->site->thunk_end;
}

/*
 * Scan a code region linearly once the displaced range is known: every instruction decodes;
 * no indirect jump; no direct branch into (J, J + len); int3 only as padding.
 */
static int scan_region(struct ctx *x, uint64_t addr, const uint8_t *code, size_t size,
		       const char *what)
{
	bool after_end = false;
	char insn[160], tgt[64], at[64];
	size_t off = 0;
	struct raw r;

	while (off < size) {
		int n = x86_64_insn_len(code + off, size - off, addr + off);

		if (n <= 0) {
			fmt_addr(x, addr + off, at, sizeof(at));
			return site_err(x, EILSEQ, "%s does not decode at %s, so branches into the "
					"jump cannot be ruled out", what, at);
		}
		classify(code + off, (size_t)n, addr + off, &r);
		switch (r.kind) {
		case R_JMP_IND:
		case R_JMP_FAR:
			fmt_insn(x, code + off, (size_t)n, addr + off, insn, sizeof(insn));
			return site_err(x, EOPNOTSUPP, "%s has an indirect jump (%s): a jump table "
					"may target the displaced bytes", what, insn);
		case R_BADBRANCH:
			fmt_insn(x, code + off, (size_t)n, addr + off, insn, sizeof(insn));
			return site_err(x, EOPNOTSUPP, "%s has a relative branch whose target is "
					"ambiguous (%s)", what, insn);
		case R_JCC:
		case R_JMP:
		case R_CALL:
		case R_LOOP:
		case R_XBEGIN:
			if (in_displaced(x, r.target)) {
				fmt_insn(x, code + off, (size_t)n, addr + off, insn, sizeof(insn));
				fmt_addr(x, r.target, tgt, sizeof(tgt));
				return site_err(x, EBUSY, "%s has a branch into the displaced bytes "
						"(%s, to %s)", what, insn, tgt);
			}
			if ((r.kind == R_JMP || r.kind == R_JCC) && in_thunks(x, r.target)) {
				fmt_insn(x, code + off, (size_t)n, addr + off, insn, sizeof(insn));
				return site_err(x, EOPNOTSUPP, "%s has an indirect jump (%s, a "
						"retpoline thunk): a jump table may target the "
						"displaced bytes", what, insn);
			}
			break;
		case R_INT3:
			if (!after_end) {
				fmt_addr(x, addr + off, at, sizeof(at));
				return site_err(x, EBUSY, "%s has an int3 at %s that is not padding (a "
						"breakpoint over an instruction?)", what, at);
			}
			break;
		default:
			break;
		}
		after_end = r.ends;
		off += (size_t)n;
	}
	return 0;
}

/* Why a displaced instruction cannot run in the slot, by its raw kind; NULL if it can. */
static const char *raw_refusal(enum raw_kind k, int *err)
{
	*err = EOPNOTSUPP;
	switch (k) {
	case R_INT3:
		*err = EBUSY;
		return "int3 (a breakpoint?) cannot be moved";
	case R_UD:
		return "BUG()/WARN() find their bug-table entry by the ud2's address, so the copy "
		       "would turn a WARN into an oops";
	case R_LOOP:
		return "loop/jrcxz have no rel32 form";
	case R_JMP_FAR:
	case R_CALL_FAR:
		return "far jumps and calls are not relocated";
	case R_SYSTEM:
		return "system instructions (iret, sysret, syscall, swapgs, int n...) are not "
		       "moved: entry/exit code";
	case R_XBEGIN:
		return "xbegin's fallback address is relative and has no other form here";
	case R_BADBRANCH:
		return "a relative branch with an operand-size prefix has an ambiguous target";
	case R_JMP_IND:
		return "an indirect jump in the function (a jump table may target the range)";
	case R_ENDBR:
		return "with IBT, indirect calls and jumps must land on this ENDBR, and would land "
		       "on the jmp";
	default:
		return NULL;
	}
}

/* Capstone ids refused whatever the bytes said (a second net under raw_refusal). */
static bool cs_refused(unsigned int id)
{
	switch (id) {
	case X86_INS_INT3: case X86_INS_INT1: case X86_INS_INT: case X86_INS_INTO:
	case X86_INS_UD2: case X86_INS_UD2B: case X86_INS_UD0:
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_SYSEXIT: case X86_INS_SYSRET:
	case X86_INS_IRET: case X86_INS_IRETD: case X86_INS_IRETQ: case X86_INS_SWAPGS:
	case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
	case X86_INS_JCXZ: case X86_INS_JECXZ: case X86_INS_JRCXZ:
	case X86_INS_LJMP: case X86_INS_LCALL: case X86_INS_RETF: case X86_INS_RETFQ:
	case X86_INS_XBEGIN:
		return true;
	}
	return false;
}

static bool reg_list_has_rip(const uint16_t *regs, uint8_t n)
{
	for (uint8_t i = 0; i < n; i++)
		if (regs[i] == X86_REG_RIP || regs[i] == X86_REG_EIP || regs[i] == X86_REG_IP)
			return true;
	return false;
}

/* Decode and classify one displaced instruction (not dead): fills in kind, target... */
static int plan_insn(struct ctx *x, struct x86_64_jump_insn *in, const struct raw *r)
{
	const cs_x86 *d;
	const char *why;
	char at[64];
	int err, rip_mem = -1;

	fmt_addr(x, in->addr, at, sizeof(at));
	why = raw_refusal(r->kind, &err);
	if (why)
		return site_err(x, err, "cannot move %s at %s: %s", in->text, at, why);
	if (!cs_decode(x, in->bytes, in->len, in->addr))
		return site_err(x, EOPNOTSUPP, "cannot move the instruction at %s: the "
				"disassembler (Capstone 4) does not know it, so its operands "
				"cannot be checked", at);
	d = &x->ci->detail->x86;
	if (cs_refused(x->ci->id))
		return site_err(x, EOPNOTSUPP, "cannot move %s at %s: not relocatable", in->text,
				at);
	switch (r->kind) {
	case R_JCC:
	case R_JMP:
	case R_CALL:
		/* Capstone must agree on the target. */
		if (d->op_count != 1 || d->operands[0].type != X86_OP_IMM ||
		    (uint64_t)d->operands[0].imm != r->target)
			return site_err(x, EOPNOTSUPP, "cannot move %s at %s: its target is "
					"ambiguous", in->text, at);
		in->kind = r->kind == R_JCC ? X86_64_JUMP_INSN_JCC :
			   r->kind == R_JMP ? X86_64_JUMP_INSN_JMP : X86_64_JUMP_INSN_CALL;
		in->cc = r->cc;
		in->target = r->target;
		return 0;
	case R_RET:
		in->kind = X86_64_JUMP_INSN_RET;
		return 0;
	default:
		break;
	}
	if (cs_insn_group(x->cs, x->ci, CS_GRP_BRANCH_RELATIVE) ||
	    cs_insn_group(x->cs, x->ci, CS_GRP_INT) || cs_insn_group(x->cs, x->ci, CS_GRP_IRET))
		return site_err(x, EOPNOTSUPP, "cannot move %s at %s: a control transfer the "
				"jump engine does not relocate", in->text, at);
	for (uint8_t i = 0; i < d->op_count; i++) {
		const cs_x86_op *op = &d->operands[i];

		if (op->type == X86_OP_REG && (op->reg == X86_REG_RIP || op->reg == X86_REG_EIP))
			return site_err(x, EOPNOTSUPP, "cannot move %s at %s: it names %%rip",
					in->text, at);
		if (op->type != X86_OP_MEM)
			continue;
		if (op->mem.index == X86_REG_RIP || op->mem.base == X86_REG_EIP ||
		    op->mem.index == X86_REG_EIP ||
		    (op->mem.base == X86_REG_RIP && rip_mem >= 0))
			return site_err(x, EOPNOTSUPP, "cannot move %s at %s: unusual %%rip "
					"addressing", in->text, at);
		if (op->mem.base == X86_REG_RIP)
			rip_mem = i;
	}
	if (r->kind != R_CALL_IND &&
	    (reg_list_has_rip(x->ci->detail->regs_read, x->ci->detail->regs_read_count) ||
	     reg_list_has_rip(x->ci->detail->regs_write, x->ci->detail->regs_write_count)))
		return site_err(x, EOPNOTSUPP, "cannot move %s at %s: it uses %%rip implicitly",
				in->text, at);
	in->kind = X86_64_JUMP_INSN_PLAIN;
	if (rip_mem < 0)
		return 0;
	/* mod 00, r/m 101: disp32 right after ModRM (no SIB); check it is the one Capstone saw. */
	if (!r->modrm || r->modrm + 5 > in->len || (in->bytes[r->modrm] & 0xc7) != 0x05 ||
	    get32(in->bytes + r->modrm + 1) != d->operands[rip_mem].mem.disp)
		return site_err(x, EOPNOTSUPP, "cannot move %s at %s: cannot locate its "
				"RIP-relative displacement", in->text, at);
	in->kind = X86_64_JUMP_INSN_RIPREL;
	in->disp_off = (uint8_t)(r->modrm + 1);
	in->target = in->addr + in->len + (uint64_t)(int64_t)d->operands[rip_mem].mem.disp;
	return 0;
}

static int check_args(const struct x86_64_jump_site *s, struct x86_64_jump_plan *plan)
{
	if (!s || !plan)
		return ekp_err(EINVAL, "planning a jump site: no site or plan");
	if (!s->func || !s->func_size || s->func_addr + s->func_size < s->func_addr)
		return ekp_err(EINVAL, "planning a jump site at 0x%" PRIx64 ": no function bytes",
			       s->jump_addr);
	if ((s->nr_busy && !s->busy) || (s->nr_entries && !s->entries) ||
	    (s->nr_more_code && !s->more_code))
		return ekp_err(EINVAL, "planning a jump site at 0x%" PRIx64 ": bad arguments",
			       s->jump_addr);
	for (size_t i = 0; i < s->nr_more_code; i++)
		if (!s->more_code[i].code && s->more_code[i].size)
			return ekp_err(EINVAL, "planning a jump site at 0x%" PRIx64
				       ": bad arguments", s->jump_addr);
	return 0;
}

/* Linear decode from the function start to J: J must be an instruction start. */
static int find_site(struct ctx *x, struct raw *prev)
{
	const struct x86_64_jump_site *s = x->site;
	uint64_t off = 0, j = s->jump_addr - s->func_addr;
	char at[64];

	memset(prev, 0, sizeof(*prev));
	while (off < j) {
		int n = x86_64_insn_len(s->func + off, s->func_size - off, s->func_addr + off);

		if (n <= 0) {
			fmt_addr(x, s->func_addr + off, at, sizeof(at));
			return site_err(x, EILSEQ, "the function does not decode at %s", at);
		}
		if (off + (uint64_t)n > j) {
			char insn[160];

			fmt_insn(x, s->func + off, (size_t)n, s->func_addr + off, insn,
				 sizeof(insn));
			return site_err(x, EILSEQ, "not an instruction start: it is inside %s", insn);
		}
		classify(s->func + off, (size_t)n, s->func_addr + off, prev);
		off += (uint64_t)n;
	}
	return 0;
}

/* The instructions from J covering >= 5 bytes, classified and checked. */
static int take_displaced(struct ctx *x)
{
	const struct x86_64_jump_site *s = x->site;
	struct x86_64_jump_plan *p = x->plan;
	uint64_t off = s->jump_addr - s->func_addr;
	bool dead = false;
	char at[64];
	struct raw r;
	int err;

	if (s->func_size - off < X86_64_JUMP_LEN)
		return site_err(x, ENOSPC, "only %" PRIu64 " bytes left in the function, a jump "
				"needs %d", s->func_size - off, X86_64_JUMP_LEN);
	while (p->displaced_len < X86_64_JUMP_LEN) {
		struct x86_64_jump_insn *in = &p->insns[p->nr_insns];
		uint64_t a = s->func_addr + off;
		int n = x86_64_insn_len(s->func + off, s->func_size - off, a);

		if (n <= 0) {
			fmt_addr(x, a, at, sizeof(at));
			return site_err(x, EILSEQ, "the function does not decode at %s", at);
		}
		in->addr = a;
		in->len = (uint8_t)n;
		memcpy(in->bytes, s->func + off, (size_t)n);
		memcpy(p->orig + p->displaced_len, s->func + off, (size_t)n);
		if (cs_decode(x, in->bytes, in->len, a))
			fmt_cut(in->text, sizeof(in->text), "%s%s%s", x->ci->mnemonic,
				 x->ci->op_str[0] ? " " : "", x->ci->op_str);
		else
			snprintf(in->text, sizeof(in->text), "(unknown %02x...)", in->bytes[0]);
		classify(in->bytes, in->len, a, &r);
		p->nr_insns++;
		p->displaced_len += (uint32_t)n;
		off += (uint64_t)n;
		if (dead) {
			in->kind = X86_64_JUMP_INSN_DEAD;
			continue;
		}
		err = plan_insn(x, in, &r);
		if (err)
			return err;
		if (in->kind == X86_64_JUMP_INSN_RET || in->kind == X86_64_JUMP_INSN_JMP) {
			dead = true;
			continue;
		}
		/* The copy falls through to the jump back after this one, if it is the last. */
		if ((r.kind == R_STI || r.kind == R_MOV_SS) && p->displaced_len >= X86_64_JUMP_LEN) {
			fmt_addr(x, a, at, sizeof(at));
			return site_err(x, EOPNOTSUPP, "%s at %s would shadow the jump back instead "
					"of the instruction after it", in->text, at);
		}
	}
	p->falls_through = !dead;
	return 0;
}

static int check_busy_entries(struct ctx *x)
{
	const struct x86_64_jump_site *s = x->site;
	uint64_t j = s->jump_addr, len = x->plan->displaced_len;
	char at[64];

	for (size_t i = 0; i < s->nr_busy; i++) {
		const struct x86_64_jump_busy *b = &s->busy[i];

		if (b->len && b->addr < j + len && j < b->addr + b->len) {
			fmt_addr(x, b->addr, at, sizeof(at));
			return site_err(x, EBUSY, "the %u displaced bytes overlap %s at %s", (unsigned)len,
					b->what ? b->what : "a busy range", at);
		}
	}
	for (size_t i = 0; i < s->nr_entries; i++) {
		if (in_displaced(x, s->entries[i])) {
			fmt_addr(x, s->entries[i], at, sizeof(at));
			return site_err(x, EBUSY, "control can enter the function at %s, inside the "
					"displaced bytes (an exception fixup?)", at);
		}
	}
	return 0;
}

int x86_64_jump_plan(const struct x86_64_jump_site *site, struct x86_64_jump_plan *plan)
{
	struct ctx x = { .site = site, .plan = plan };
	uint8_t copy[X86_64_JUMP_MAX_COPY], jmp[X86_64_JUMP_LEN];
	size_t copy_len = 0;
	struct raw prev;
	int err;

	err = check_args(site, plan);
	if (err)
		return err;
	memset(plan, 0, sizeof(*plan));
	fmt_addr(&x, site->jump_addr, x.where, sizeof(x.where));
	snprintf(plan->where, sizeof(plan->where), "%s", x.where);
	if (site->jump_addr < site->func_addr ||
	    site->jump_addr - site->func_addr >= site->func_size)
		return site_err(&x, EINVAL, "not inside the function (0x%" PRIx64 ", %zu bytes)",
				site->func_addr, site->func_size);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &x.cs) != CS_ERR_OK)
		return site_err(&x, ENOSYS, "cannot open the Capstone disassembler");
	cs_option(x.cs, CS_OPT_DETAIL, CS_OPT_ON);
	cs_option(x.cs, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	x.ci = cs_malloc(x.cs);
	if (!x.ci) {
		err = site_err(&x, ENOMEM, "out of memory");
		goto out;
	}

	plan->func_addr = site->func_addr;
	plan->func_size = site->func_size;
	plan->jump_addr = site->jump_addr;
	plan->probe_addr = site->probe_addr ? site->probe_addr : site->jump_addr;
	plan->slot_addr = site->slot_addr;

	err = find_site(&x, &prev);
	if (!err && (prev.kind == R_STI || prev.kind == R_MOV_SS))
		err = site_err(&x, EOPNOTSUPP, "right after %s, whose interrupt shadow would cover "
			       "the jmp instead of the displaced instruction",
			       prev.kind == R_STI ? "sti" : "a mov to %ss");
	if (!err)
		err = take_displaced(&x);
	if (!err)
		err = check_busy_entries(&x);
	if (!err)
		err = scan_region(&x, site->func_addr, site->func, site->func_size,
				  "the function");
	for (size_t i = 0; !err && i < site->nr_more_code; i++) {
		const struct x86_64_jump_code *m = &site->more_code[i];
		char what[96];

		if (m->name)
			snprintf(what, sizeof(what), "%s", m->name);
		else
			snprintf(what, sizeof(what), "the code at 0x%" PRIx64, m->addr);
		err = scan_region(&x, m->addr, m->code, m->size, what);
	}
	if (err)
		goto out;

	/* Reach: J -> slot, the relocated copy, the jump back. copy_len does not depend on where
	 * the copy is; more indices move it, and x86_64_build_trampoline() re-checks then. */
	if (x86_64_encode_jmp5(site->jump_addr, site->slot_addr, jmp)) {
		err = site_err(&x, ERANGE, "the slot at 0x%" PRIx64 " is beyond rel32 reach",
			       site->slot_addr);
		goto out;
	}
	err = x86_64_jump_relocate(plan, site->slot_addr + X86_64_JUMP_COPY_OFFSET(1), copy,
				   sizeof(copy), &copy_len);
	if (err)
		goto out;
	plan->copy_len = (uint32_t)copy_len;
	if (plan->falls_through &&
	    x86_64_encode_jmp5(site->slot_addr + X86_64_JUMP_COPY_OFFSET(1) + copy_len,
			       site->jump_addr + plan->displaced_len, jmp)) {
		err = site_err(&x, ERANGE, "the jump back from the slot at 0x%" PRIx64 " is beyond "
			       "rel32 reach", site->slot_addr);
		goto out;
	}
out:
	if (x.ci)
		cs_free(x.ci, 1);
	cs_close(&x.cs);
	return err;
}
