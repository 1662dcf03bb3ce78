/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boot phases of Linux on x86_64 (FIELD-NOTES 4), in boot order: the function whose first
 * entry event marks that the boot reached the phase. A phase counts only when something
 * probes that function (an entry probe anywhere in it). Used by the perfetto sink (a track of
 * its own), the live status line, the report and diff.
 */
#ifndef EKPROBE_HOST_LABS_PHASE_H
#define EKPROBE_HOST_LABS_PHASE_H

#include <stddef.h>

#define EKP_NR_PHASES 10

/* The phase of a function name (len bytes of name, no "+0x.." part), or -1. */
int ekp_phase_of(const char *name, size_t len);
const char *ekp_phase_name(int phase);

#endif
