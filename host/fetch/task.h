/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which task a hit ran in, without debug info: the kernel's `current` (the arch finds it), and
 * the offsets of comm and pid in task_struct found from init_task's initialised bytes in the
 * vmlinux image (comm is "swapper"; real_parent and parent both point to init_task, and
 * pid/tgid sit right before them).
 */
#ifndef EKPROBE_HOST_TASK_H
#define EKPROBE_HOST_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/arch.h"
#include "ekprobe/symbols.h"
#include "host/event.h"

struct ekp_task_layout {
	bool have_current;       /* the arch can find `current` (its symbol, if any, is known) */
	uint64_t current_sym;    /* the address of the arch's current_sym, 0 if it names none */
	uint64_t init_task;      /* &init_task, 0 if unknown */
	bool have_fields;        /* comm and pid offsets known */
	uint32_t comm_off, pid_off;
};

/* Pure: find the offsets in init_task's bytes. */
int ekp_task_layout_from_image(struct ekp_task_layout *l, const uint8_t *init_task, size_t size,
			       uint64_t init_task_addr, bool stack_protector);
/* From the symbol table (and its image when it has one). Never fails: fills what it can. */
void ekp_task_layout_init(struct ekp_task_layout *l, const struct ekp_symtab *st,
			  const struct ekp_arch *arch);

/*
 * Identify the current task from captured registers and guest memory. out->known is false
 * ("<...>-?") whenever it cannot be read; idle (pid 0) only when the per-CPU base is not set
 * up yet, current is init_task, or the task read says pid 0. -ENOMEM is the only error.
 */
int ekp_task_read(const struct ekp_task_layout *l, const struct ekp_arch *arch,
		  const struct ekp_regs *regs,
		  int (*read_mem)(void *opaque, uint64_t addr, void *buf, size_t len), void *opaque,
		  struct ekp_task *out);

#endif
