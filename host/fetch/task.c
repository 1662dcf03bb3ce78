// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/fetch/task.h"

#define TASK_COMM_LEN 16
#define MAX_TASK_STRUCT 16384

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int ekp_task_layout_from_image(struct ekp_task_layout *l, const uint8_t *img, size_t size,
			       uint64_t init_task_addr, bool stack_protector)
{
	static const char comm[TASK_COMM_LEN] = "swapper";
	size_t off, parent = 0;

	l->have_fields = false;
	for (off = 0; off + TASK_COMM_LEN <= size; off++)
		if (!memcmp(img + off, comm, TASK_COMM_LEN))
			break;
	if (off + TASK_COMM_LEN > size)
		return -ENOENT;
	l->comm_off = (uint32_t)off;
	/* real_parent and parent, adjacent and both &init_task, 8-byte aligned. */
	for (off = 8; off + 16 <= size; off += 8)
		if (le64(img + off) == init_task_addr && le64(img + off + 8) == init_task_addr) {
			parent = off;
			break;
		}
	if (!parent || parent < (stack_protector ? 16u : 8u))
		return -ENOENT;
	l->pid_off = (uint32_t)(parent - (stack_protector ? 16 : 8));
	l->have_fields = true;
	return 0;
}

void ekp_task_layout_init(struct ekp_task_layout *l, const struct ekp_symtab *st,
			  const struct ekp_arch *arch)
{
	struct ekp_sym sym, guard;
	uint8_t *img;

	memset(l, 0, sizeof(*l));
	if (!arch->current_sym) {
		l->have_current = arch->current_task != NULL;
	} else if (!ekp_symtab_lookup(st, arch->current_sym, &sym)) {
		l->have_current = true;
		l->current_sym = sym.addr;
	}
	if (ekp_symtab_lookup(st, "init_task", &sym))
		return;
	l->init_task = sym.addr;
	if (!ekp_symtab_has_image(st) || !sym.size || sym.size > MAX_TASK_STRUCT)
		return;
	img = malloc(sym.size);
	if (!img)
		return;
	if (!ekp_symtab_read(st, sym.addr, img, sym.size))
		ekp_task_layout_from_image(l, img, sym.size, sym.addr,
					   !ekp_symtab_lookup(st, "__stack_chk_fail", &guard));
	free(img);
}

int ekp_task_read(const struct ekp_task_layout *l, const struct ekp_arch *arch,
		  const struct ekp_regs *regs,
		  int (*read_mem)(void *opaque, uint64_t addr, void *buf, size_t len), void *opaque,
		  struct ekp_task *out)
{
	uint8_t pid[4], *span;
	uint32_t lo, hi;
	uint64_t task;
	int err;

	memset(out, 0, sizeof(*out));
	if (!arch->in_kernel_mode(regs) || !l->have_current)
		return 0;
	/*
	 * No `current` yet (before the per-CPU area is set up): the boot CPU's init_task or a
	 * secondary CPU's idle task coming up, pid 0 either way. Past that, only what is read
	 * says pid 0: a failed read or a pointer that is no kernel address is unknown, not idle.
	 */
	err = arch->current_task(regs, l->current_sym, read_mem, opaque, &task);
	if (err == -ENODATA) {
		out->known = out->idle = true;
		return 0;
	}
	if (err || !arch->is_kernel_addr(task))
		return 0;
	if (task == l->init_task) {
		out->known = out->idle = true;
		snprintf(out->comm, sizeof(out->comm), "swapper/0");
		return 0;
	}
	if (!l->have_fields)
		return 0;
	/* One read covering both fields: they are a few hundred bytes apart. */
	lo = l->pid_off < l->comm_off ? l->pid_off : l->comm_off;
	hi = l->pid_off < l->comm_off ? l->comm_off + TASK_COMM_LEN : l->pid_off + 4;
	span = malloc(hi - lo);
	if (!span)
		return -ENOMEM;
	if (read_mem(opaque, task + lo, span, hi - lo)) {
		free(span);
		return 0;
	}
	memcpy(pid, span + (l->pid_off - lo), sizeof(pid));
	memcpy(out->comm, span + (l->comm_off - lo), TASK_COMM_LEN);
	free(span);
	out->comm[TASK_COMM_LEN] = '\0';
	out->pid = (int)(pid[0] | pid[1] << 8 | pid[2] << 16 | (uint32_t)pid[3] << 24);
	if (out->pid < 0) {
		memset(out, 0, sizeof(*out)); /* a pid_t is never negative: not a task_struct */
		return 0;
	}
	out->known = true;
	out->idle = out->pid == 0;
	return 0;
}
