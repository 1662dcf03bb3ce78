/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-architecture ops table: the arch-neutral core (parser, resolver, engines, fetch-arg
 * evaluation, the VM transport) asks these questions and never names a register, an opcode, a
 * machine's memory map or a kernel layout itself. An architecture is one folder under arch/
 * and one table; docs/architecture.md says what a new one must provide.
 */
#ifndef EKPROBE_ARCH_H
#define EKPROBE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EKP_MAX_REGS 64

struct ekp_symtab;
struct ekp_boot_info;

/* Register values captured at a hit, indexed by the arch's own register ids. */
struct ekp_regs {
	uint64_t val[EKP_MAX_REGS];
	uint64_t valid; /* bit i set: val[i] was read from the target */
};

/* Reads guest virtual memory: 0, or -EFAULT when it cannot be read. */
typedef int (*ekp_read_mem_fn)(void *opaque, uint64_t addr, void *buf, size_t len);

/* Guest RAM as QEMU's machine lays it out in its RAM backend: file offset of each range. */
#define EKP_RAM_MAX_RANGES 4
struct ekp_ram_layout {
	unsigned int nr;
	struct ekp_ram_range {
		uint64_t gpa, len, offset;
	} range[EKP_RAM_MAX_RANGES];
};

/* A point in time on the host, for measuring the guest's timestamp counter's rate. */
struct ekp_clock_mark {
	uint64_t mono_ns;  /* CLOCK_MONOTONIC */
	uint64_t ticks;    /* the host counter the guest's counter follows */
	bool have_ticks;   /* this host has such a counter ekprobe-host can read */
};

/*
 * A planned jump site, as the arch's site planner fills it (the arch keeps its own decoding
 * behind it): one jump at jump_addr serves every probe at probe_addr.
 */
struct ekp_jump_site {
	uint64_t probe_addr;      /* the probes' address: the trampoline frame's pc */
	uint64_t jump_addr;       /* where the jump instruction goes */
	uint32_t displaced_len;   /* bytes of original code it replaces */
	const uint8_t *orig;      /* those bytes, as the image holds them */
	const char *where;        /* "do_foo+0x5", for messages */
};

/*
 * How far a kernel that moves at boot (KASLR: CONFIG_RANDOMIZE_BASE) runs from its link-time
 * place: every link-time address in the kernel image's mapping (ekp_kaslr_arch's
 * [image_start, image_end)) runs at address + virt (mod 2^64), and the image lies at its
 * link-time physical address + phys, so the early alias of a running address a is
 * early_alias(a - virt) + phys. Absolute and per-CPU symbols do not move.
 */
struct ekp_slide {
	uint64_t virt;
	uint64_t phys;
};

#define EKP_CODE_SLACK 8

/* Reads guest physical memory: 0, or -errno. */
typedef int (*ekp_read_phys_fn)(void *opaque, uint64_t pa, void *buf, size_t len);

/* Finding where a relocatable kernel was put, during its boot (KASLR). */
struct ekp_kaslr_arch {
	/* Link-time addresses in [image_start, image_end) move with the image. */
	uint64_t image_start, image_end;
	/*
	 * The guest physical addresses where the kernel's first instruction may run, given
	 * what the boot image says (boot may be NULL: the arch's defaults) and the guest's RAM:
	 * 0 and a malloc'd array, or -errno + reason.
	 */
	int (*entry_candidates)(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
				const struct ekp_ram_layout *ram, uint64_t **out, size_t *nr);
	/*
	 * At a stop on candidate pa, before the kernel ran any instruction: -ENOENT when what is
	 * at pa is not the kernel's entry (other code run there: the image's bytes differ); 0 and
	 * the slides, read from guest memory (a pointer the boot relocated); -errno + reason.
	 */
	int (*find_slides)(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
			   uint64_t pa, ekp_read_phys_fn read_phys, void *opaque,
			   struct ekp_slide *out);
	/* Whether n bytes of code from the image and from guest memory are the same code, the
	 * live copy relocated by virt (the boot's relocations may have changed some fields);
	 * both buffers hold n + EKP_CODE_SLACK bytes (a field may reach past the n compared). */
	bool (*same_code)(const uint8_t *image, const uint8_t *live, size_t n, uint64_t virt);
	/* A kernel that runs already (attached to): its virtual offset, found in its memory. */
	int (*find_virt_slide)(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
			       ekp_read_mem_fn read_mem, void *opaque, uint64_t *virt);
};

/* What the arch reads from the kernel image for its site checks (opaque). */
struct ekp_jump_text;

/* The jump engine's per-arch half: site checks, trampolines, jump encoding, the frame. */
struct ekp_jump_arch {
	unsigned int max_site_probes; /* probe indices one trampoline calls the guest for */
	size_t max_tramp_bytes;       /* a buffer this big fits any trampoline */
	size_t max_jump_bytes;        /* ... and any jump */
	/* Fetch programs' REG operand: register id -> byte offset in the trampoline's frame
	 * (the ABI's register frame for this arch), or -1 when the frame does not hold it. */
	int (*frame_offset)(int reg);
	/* Load what site checks need from a vmlinux (the kernel's self-patching tables, the
	 * text that runs before the kernel mapping exists); -errno and ekp_err() reason. */
	int (*text_open)(const struct ekp_symtab *st, struct ekp_jump_text **out);
	void (*text_close)(struct ekp_jump_text *t);
	/* Check a jump for probes at addr whose trampoline goes at slot: 0 and *out, or -errno
	 * with the reason through ekp_err() (why this site cannot take a jump). */
	int (*site_plan)(const struct ekp_jump_text *t, uint64_t addr, uint64_t slot,
			 struct ekp_jump_site **out);
	void (*site_free)(struct ekp_jump_site *s);
	/* Bytes of the trampoline for nr probe indices (0: nr out of range). */
	size_t (*tramp_size)(const struct ekp_jump_site *s, unsigned int nr);
	/* The trampoline at slot calling hit_entry once per index: 0 and *len, or -errno
	 * (reach, room) with the reason. */
	int (*tramp_build)(const struct ekp_jump_site *s, uint64_t slot, uint64_t hit_entry,
			   const uint32_t *indices, unsigned int nr, uint8_t *buf, size_t buflen,
			   size_t *len);
	/* The jump at the site to slot: 0 and *len, or -ERANGE (out of reach). */
	int (*jump_build)(const struct ekp_jump_site *s, uint64_t slot, uint8_t *buf,
			  size_t buflen, size_t *len);
};

/*
 * What the guest kernel's own kprobe did to the code at its site, seen by comparing the
 * kernel image's bytes there with guest memory (ekp_arch.kprobe_site).
 */
enum ekp_ksite {
	EKP_KSITE_SAME,       /* the image's bytes: nothing written there */
	EKP_KSITE_INT3,       /* a breakpoint over the first byte only (an int3 kprobe) */
	EKP_KSITE_OPTPROBE,   /* a jump over the first bytes only (an optprobe) */
	EKP_KSITE_FTRACE,     /* the ftrace call at a traceable function entry (ftrace kprobe) */
	EKP_KSITE_FENTRY_NOP, /* the boot's NOP over that call: ftrace's, nothing armed there */
	EKP_KSITE_POKING,     /* an int3 over the first byte of a 5-byte rewrite under way
			       * (x86 text_poke_bp(): an optprobe or an ftrace call going in) */
	EKP_KSITE_OTHER,      /* anything else: not what kprobes write */
	EKP_KSITE_NR
};

/* Bytes of image and guest memory a kprobe_site() call is given (it compares fewer). */
#define EKP_KSITE_BYTES 16

static inline const char *ekp_ksite_name(enum ekp_ksite k)
{
	switch (k) {
	case EKP_KSITE_SAME: return "the vmlinux's bytes (nothing written)";
	case EKP_KSITE_INT3: return "int3 over its first byte (int3 kprobe)";
	case EKP_KSITE_OPTPROBE: return "jmp rel32 over its first bytes (optprobe)";
	case EKP_KSITE_FTRACE: return "the ftrace call at the function entry (ftrace-based kprobe)";
	case EKP_KSITE_FENTRY_NOP: return "ftrace's boot NOP at the function entry (nothing armed)";
	case EKP_KSITE_POKING: return "int3 over a 5-byte rewrite under way (text_poke_bp)";
	case EKP_KSITE_OTHER: case EKP_KSITE_NR: break;
	}
	return "OTHER bytes than kprobes write";
}

struct ekp_arch {
	const char *name;       /* "x86_64" */
	const char *qemu_name;  /* qemu-system-<qemu_name> */
	const char *entry_sym;  /* the kernel's first instruction (a System.map names its arch) */
	unsigned int ptr_size;
	unsigned int nr_regs;

	/* kprobe_events register name (without '%') -> arch register id, or -ENOENT. */
	int (*reg_lookup)(const char *name);
	/* arch register id -> kprobe_events name. */
	const char *(*reg_name)(int id);
	/* arch register id -> name of the register in GDB's target description ("rax"). */
	const char *(*gdb_reg_name)(int id);

	int pc_reg, sp_reg, retval_reg;
	/* The register current_task() reads (x86_64: gs_base; arm64: sp_el0), read alone at a
	 * stop when the gdbstub's 'g' packet does not carry it; -1 for none. */
	int task_reg;
	/* $argN (1-based) held in a register: arg_regs[N-1]; above nr_arg_regs it is on the stack. */
	const int *arg_regs;
	unsigned int nr_arg_regs;
	/* Stack slot (in pointer-size words from the entry SP) of the first stack-passed argument. */
	unsigned int stack_arg_first_slot;

	/* Length of the instruction at code[0..len) placed at address addr, or -EINVAL. */
	int (*insn_len)(const uint8_t *code, size_t len, uint64_t addr);

	/*
	 * Where, at a function's first instruction, the return address is: in a register
	 * (returns the reg id, sets *in_reg) or at the stack pointer (returns 0, in_reg false).
	 */
	int (*return_addr_location)(bool *in_reg);

	/*
	 * Where the guest kernel's own kprobe for a probe at addr writes its breakpoint, given
	 * the code at addr (code[0..len)); func_entry: addr is a function's first byte. Linux 6.1
	 * arch_adjust_kprobe_addr(): x86_64 moves a probe on a function's ENDBR past it. NULL:
	 * at addr.
	 */
	uint64_t (*kprobe_addr)(const uint8_t *code, size_t len, uint64_t addr, bool func_entry);
	/*
	 * How the code at a kernel kprobe's address kaddr (kprobe_addr()'s) differs between the
	 * kernel image (image) and guest memory (live), EKP_KSITE_BYTES each: the bytes compared
	 * (*compared, whole instructions of the image) hold the image's code, or what a kprobe
	 * writes there (an int3 kprobe, an optprobe, an ftrace-based kprobe), or something else.
	 * fentry: the function a traceable entry calls in the image (0: not known). Pure. NULL:
	 * the arch does not tell.
	 */
	enum ekp_ksite (*kprobe_site)(const uint8_t *image, const uint8_t *live, uint64_t kaddr,
				      uint64_t fentry, size_t *compared);

	/*
	 * Kernel text also runs before paging switches to the kernel's own mapping (x86_64:
	 * startup_64 runs at its physical address). Returns true and the alias address through
	 * *alias for a kernel virtual text address that may also execute at an alias; the alias
	 * is the image's physical address.
	 */
	bool (*early_alias)(uint64_t vaddr, uint64_t *alias);
	/* The first function the boot CPU runs in the kernel's own mapping: from there on no
	 * code runs at an early alias, so alias breakpoints can go (they cost QEMU a scan of its
	 * breakpoint list on every translation-block lookup). */
	const char *early_end_sym;
	/* True for an address in the kernel half of the address space. */
	bool (*is_kernel_addr)(uint64_t addr);
	/* True if the captured registers say the CPU runs kernel code (not user mode). */
	bool (*in_kernel_mode)(const struct ekp_regs *regs);

	/*
	 * The running task (the kernel's `current`): *task, 0; -ENODATA when the CPU has none
	 * yet (code before the per-CPU area or its register is set up: the boot CPU's init_task
	 * or a secondary CPU's idle task coming up); -EFAULT when guest memory could not be read.
	 * sym_addr is the address of current_sym (0 when the arch names none).
	 */
	const char *current_sym;
	int (*current_task)(const struct ekp_regs *regs, uint64_t sym_addr, ekp_read_mem_fn read_mem,
			    void *opaque, uint64_t *task);

	/* Guest RAM size QEMU gives this machine without -m. */
	uint64_t default_ram;
	/* QEMU's RAM backend layout for the machine the command line selects; -errno + reason
	 * for a machine ekprobe does not know. */
	int (*ram_layout)(char *const *qemu_argv, uint64_t ram, struct ekp_ram_layout *out);

	/*
	 * The guest's timestamp counter (what exit-less engines stamp records with): mark a
	 * point now; later, its rate in Hz measured from that mark (or known: -icount), or
	 * -EOPNOTSUPP with the reason when this host cannot tell it.
	 */
	void (*clock_mark)(struct ekp_clock_mark *m);
	int (*clock_rate)(const struct ekp_clock_mark *since, bool icount, uint64_t *hz);

	/* The jump engine's half for this arch; NULL when the arch has none. */
	const struct ekp_jump_arch *jump;
	/* Following a kernel that KASLR moves; NULL when the arch cannot. */
	const struct ekp_kaslr_arch *kaslr;
};

/* The early alias of the running address vaddr under slide sl (NULL: none): see ekp_slide. */
static inline bool ekp_arch_alias(const struct ekp_arch *a, const struct ekp_slide *sl,
				  uint64_t vaddr, uint64_t *alias)
{
	if (!a->early_alias || !a->early_alias(vaddr - (sl ? sl->virt : 0), alias))
		return false;
	*alias += sl ? sl->phys : 0;
	return true;
}

const struct ekp_arch *ekp_arch_by_name(const char *name);
/* The arch a QEMU binary emulates ("qemu-system-x86_64", any directory), or NULL. */
const struct ekp_arch *ekp_arch_by_qemu(const char *qemu_path);
/* The arch whose entry_sym the symbols define (one only), or NULL. */
const struct ekp_arch *ekp_arch_by_symbols(const struct ekp_symtab *st);
extern const struct ekp_arch ekp_arch_x86_64;
extern const struct ekp_arch ekp_arch_arm64;

#endif
