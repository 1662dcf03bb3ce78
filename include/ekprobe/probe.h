/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The probe list in the kernel's kprobe_events syntax (Documentation/trace/kprobetrace.rst):
 *
 *   p[:[GRP/][EVENT]] [MOD:]SYM[+offs]|MEMADDR [FETCHARGS]
 *   r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]
 *   -:[GRP/]EVENT
 *
 * Parsing is pure (no symbols, no I/O beyond reading a file); symbol resolution fills in the
 * addresses afterwards (host/probes/resolve.c).
 */
#ifndef EKPROBE_PROBE_H
#define EKPROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"

#define EKP_MAX_ARGS 128          /* as the kernel's MAX_TRACE_ARGS */
#define EKP_MAX_NAME 64           /* as the kernel's MAX_EVENT_NAME_LEN */
#define EKP_MAX_DEREF_DEPTH 8     /* nested +OFFS(...) levels */
#define EKP_MAX_ARRAY 64          /* TYPE[N] */

enum ekp_probe_kind {
	EKP_PROBE_ENTRY,  /* p */
	EKP_PROBE_RETURN, /* r */
};

enum ekp_fetch_op {
	EKP_FETCH_REG,       /* %REG */
	EKP_FETCH_ARG,       /* $argN */
	EKP_FETCH_STACK_N,   /* $stackN */
	EKP_FETCH_STACK,     /* $stack: the stack pointer */
	EKP_FETCH_RETVAL,    /* $retval (return probes only) */
	EKP_FETCH_COMM,      /* $comm */
	EKP_FETCH_MEM_ADDR,  /* @ADDR */
	EKP_FETCH_MEM_SYM,   /* @SYM[+|-offs]: resolved to an address later */
	EKP_FETCH_DEREF,     /* [+|-][u]OFFS(FETCHARG): load from inner value + offs */
	EKP_FETCH_IMM,       /* \IMM or \"string" */
};

struct ekp_fetch {
	enum ekp_fetch_op op;
	int reg;               /* REG: arch register id */
	unsigned int n;        /* ARG (1-based), STACK_N */
	uint64_t addr;         /* MEM_ADDR; MEM_SYM after resolution */
	char *sym;             /* MEM_SYM: symbol name */
	int64_t sym_off;       /* MEM_SYM: +|-offs */
	bool resolved;         /* MEM_SYM: addr is valid */
	int64_t offset;        /* DEREF */
	bool user;             /* DEREF with 'u': user-space memory */
	struct ekp_fetch *inner; /* DEREF */
	uint64_t imm;          /* IMM (numeric) */
	char *imm_str;         /* IMM (string), or NULL */
};

enum ekp_type_base {
	EKP_T_U, EKP_T_S, EKP_T_X, /* fixed-size integers */
	EKP_T_STRING, EKP_T_USTRING,
	EKP_T_SYMBOL,              /* pointer printed as sym+off */
	EKP_T_BITFIELD,            /* b<width>@<offset>/<container bits> */
};

struct ekp_type {
	enum ekp_type_base base;
	unsigned int size;      /* bytes: 1 2 4 8 for integers, container size for bitfields */
	unsigned int bf_width;  /* bitfield */
	unsigned int bf_offset; /* bitfield */
	unsigned int array_len; /* TYPE[N]; 0 if not an array */
	bool is_default;        /* no ':TYPE' given (the kernel's default: x64/u64 per arch) */
};

struct ekp_arg {
	char *name;             /* NAME= or the kernel's default "argN" */
	char *text;             /* the fetch-arg as written, for messages */
	struct ekp_fetch *fetch;
	struct ekp_type type;
};

struct ekp_probe {
	enum ekp_probe_kind kind;
	char group[EKP_MAX_NAME];
	char event[EKP_MAX_NAME];
	char *module;           /* MOD: prefix, or NULL (only "vmlinux" resolves today) */
	char *sym;              /* NULL when the probe is on a raw MEMADDR */
	uint64_t offset;        /* +offs */
	uint64_t addr;          /* MEMADDR, or the resolved address */
	bool resolved;
	unsigned int maxactive; /* r<N> */
	unsigned int nr_args;
	struct ekp_arg *args;

	/* Where it came from, for every later message about it. */
	char *file;             /* "-p" for the command line */
	unsigned int line;
	char *text;             /* the whole spec as written */
};

/*
 * Parse one probe definition. Returns 0 and a new probe in *out, or a negative errno with the
 * reason recorded by ekp_err() and, if column is not NULL, the 1-based column of text it is
 * about in *column (0 if none). A '-:' deletion line returns 1 with the group/event to delete
 * in *out (no args). arch validates register names and $argN.
 */
int ekp_probe_parse(const char *text, const struct ekp_arch *arch, struct ekp_probe **out,
		    unsigned int *column);
void ekp_probe_free(struct ekp_probe *p);

/* An ordered set of probes, unique by GRP/EVENT. */
struct ekp_probe_list;

struct ekp_probe_list *ekp_probe_list_new(const struct ekp_arch *arch);
void ekp_probe_list_free(struct ekp_probe_list *l);
/*
 * Add one line (from file:line; file "-p" for the command line). Blank and '#' lines are
 * ignored. On error returns negative errno and records "FILE:LINE:COL: reason" via ekp_err().
 */
int ekp_probe_list_add(struct ekp_probe_list *l, const char *text, const char *file,
		       unsigned int line);
/*
 * Bounds on a probe file, far above any real list: a line the kernel accepts is at most about
 * 16 KiB (128 args of 63 characters, plus names and types).
 */
#define EKP_PROBE_FILE_MAX (16u << 20)  /* bytes in a probe file */
#define EKP_PROBE_LINE_MAX (64u << 10)  /* bytes in one line, without its newline */
#define EKP_PROBE_PIPE_WAIT_MS 10000    /* a pipe must reach its end within this */

/*
 * Read a probe file, one probe a line; stops at the first bad line (reported as above). A
 * regular file is read; a pipe or a FIFO until its writers close it, for at most
 * EKP_PROBE_PIPE_WAIT_MS (a FIFO with no writer is refused at once); anything else is refused
 * ("not a regular file or a pipe"), as are a NUL byte (FILE:LINE:COL) and text over the limits.
 * Never blocks beyond that wait. host/probes/file.c.
 */
int ekp_probe_list_load(struct ekp_probe_list *l, const char *path);
/* The same with another wait for a pipe, in ms. */
int ekp_probe_list_load_wait(struct ekp_probe_list *l, const char *path, int wait_ms);
/* The same from memory, len bytes of data (any bytes), named name in messages. */
int ekp_probe_list_load_buf(struct ekp_probe_list *l, const char *data, size_t len,
			    const char *name);
unsigned int ekp_probe_list_count(const struct ekp_probe_list *l);
struct ekp_probe *ekp_probe_list_get(const struct ekp_probe_list *l, unsigned int i);

#endif
