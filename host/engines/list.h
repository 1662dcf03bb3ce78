/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engines, one line each, most preferred first: `--engine auto` gives each probe the first
 * engine that takes it. Included by host/engines/registry.c with EKP_ENGINE defined.
 */
EKP_ENGINE(plugin)
EKP_ENGINE(jump)
EKP_ENGINE(trap)
