#!/usr/bin/env bash
# make bench: the cost of probing a real boot, measured side by side in one invocation.
#
# Runs, interleaved over BENCH_ROUNDS rounds (default 2):
#   base       the unprobed boot
#   ekprobe    ekprobe-host's trap engine on the bench probes
#   jump       its jump engine on the same probes (when the kernel has the guest patch)
#   gdb        gdb (Debian's) with a dprintf on each of the same functions
#   ekprobe+50 / gdb+50   the same with 50 more probes on functions that never run in this boot
#   placed+50  ekprobe with the same 57 probes where --engine auto puts them: the 7 bench probes
#              kept on the trap engine, the 50 idle ones as jumps (out of QEMU's breakpoint list)
# then (alone with BENCH_ONLY=handoff) the guest's own time from the handoff to /init with
# --detach-after-handoff against the unprobed boot, under -icount shift=0 (a count, not a timing);
# at the end (alone with BENCH_ONLY=arm64, run when the arm64 kernel is built) the arm64 jump
# engine's boot against the unprobed one (a count too), and its trap engine beside gdb-multiarch
# and reports wall time, hits, and cost per hit = (wall - base wall) / hits, plus ratios.
# Timing varies on these machines: compare the ratios of one invocation, not absolute times.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${EKPROBE_BZIMAGE:-}" ]; then # a guest given from outside (the cache's layout)
	BZIMAGE=$EKPROBE_BZIMAGE INITRD=${EKPROBE_INITRD:?} VMLINUX=${EKPROBE_VMLINUX:?}
else
	eval "$("$here/scripts/kernel.sh" print)"
fi
SYSMAP=$(dirname "$VMLINUX")/System.map
EKPROBE=$here/build/ekprobe-host
rounds=${BENCH_ROUNDS:-2}
work=$(mktemp -d /tmp/ekprobe-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
APPEND="console=ttyS0 panic=-1 quiet nokaslr"
FUNCS="start_kernel setup_arch do_one_initcall __alloc_pages rest_init kernel_init run_init_process"

# 50 functions this boot never runs, chosen by measurement: system calls that busybox's /init
# does not make. A first boot probes every candidate; the 50 first (by name) with no hit are
# kept, and the figures below still count any of them that fires.
used='execve|mount|reboot|write|read|open|openat|close|exit|exit_group|brk|mmap|munmap|ioctl|rt_sigaction|rt_sigprocmask|getpid|set_tid_address|arch_prctl|newfstat|newfstatat|newstat|newlstat|access|dup2|wait4|clone|vfork|getuid|geteuid|newuname|prlimit64|getcwd|readlinkat|fcntl|lseek|getdents64|statx|setsid|setpgid|getppid|chdir|umask|poll|ppoll|nanosleep|sync|pipe2|mprotect|sched_yield|getrandom|futex|sysinfo'
# ---- arm64: the jump engine's boot against the unprobed boot, in guest instructions ---------
# Under -icount shift=0,sleep=off the arm64 guest's generic timer follows QEMU's virtual clock,
# one nanosecond per guest instruction (plus the jumps over idle time, the same in every boot of
# this kernel), and the jump engine stamps its records with it: the timestamp of a jump probe on
# run_init_process is the guest's work up to /init. base: that probe alone (one hit); jump: the
# same with the bench probes (start_kernel ... kernel_init, __alloc_pages) on the jump engine.
# A count, not a timing: the ratio holds on a loaded machine. Wall times are printed beside it
# for information only. Then, in wall time, the trap engine's cost per hit beside gdb-multiarch's.
bench_arm64() {
	local f a=() j=() base_ts base2_ts jump_ts w0 w1 jw0 jw1 hits
	eval "$(EKPROBE_ARCH=arm64 "$here/scripts/kernel.sh" print | sed 's/^/A64_/')"
	grep -q ' ekprobe_desc$' "$(dirname "$A64_VMLINUX")/System.map" ||
		{ echo "bench: arm64: the kernel has no ekprobe guest patch" >&2; return 1; }
	a64_qemu() { # a64_qemu CONSOLE [more]
		echo qemu-system-aarch64 -M virt -cpu max -display none -serial "file:$1" -no-reboot \
			-m 256 -kernel "$A64_BZIMAGE" -initrd "$A64_INITRD" -icount shift=0,sleep=off \
			-rtc clock=vm,base=2024-01-01T00:00:00
	}
	a64_qemu_plain() { # a64_qemu_plain CONSOLE: without -icount (wall-time runs)
		echo qemu-system-aarch64 -M virt -cpu max -display none -serial "file:$1" -no-reboot \
			-m 256 -kernel "$A64_BZIMAGE" -initrd "$A64_INITRD"
	}
	A64_APPEND="console=ttyAMA0 panic=-1 quiet nokaslr"
	a=(--engine jump -p 'p:m/ri run_init_process')
	j=("${a[@]}")
	for f in start_kernel setup_arch do_one_initcall __alloc_pages rest_init kernel_init; do
		j+=(-p "p:bench/$f $f")
	done
	echo "bench: arm64: unprobed boot (one jump probe on run_init_process), -icount shift=0..." >&2
	w0=$(date +%s.%N)
	# shellcheck disable=SC2046
	"$EKPROBE" --summary --symbols "$A64_VMLINUX" --format json -o "$work/a64-base.json" "${a[@]}" \
		-- $(a64_qemu "$work/a64c") -append "$A64_APPEND" 2>"$work/a64-base.err"
	w1=$(date +%s.%N)
	echo "bench: arm64: jump-engine boot (the bench probes)..." >&2
	jw0=$(date +%s.%N)
	# shellcheck disable=SC2046
	"$EKPROBE" --summary --symbols "$A64_VMLINUX" --format json -o "$work/a64-jump.json" "${j[@]}" \
		-- $(a64_qemu "$work/a64c") -append "$A64_APPEND" 2>"$work/a64-jump.err"
	jw1=$(date +%s.%N)
	base_ts=$(grep '"probe":"m/ri"' "$work/a64-base.json" | head -1 | sed 's/.*"ts_ns":\([0-9]*\).*/\1/')
	jump_ts=$(grep '"probe":"m/ri"' "$work/a64-jump.json" | head -1 | sed 's/.*"ts_ns":\([0-9]*\).*/\1/')
	hits=$(grep -c '"probe":"bench/' "$work/a64-jump.json" || true)
	[ -n "$base_ts" ] && [ -n "$jump_ts" ] ||
		{ echo "bench: arm64: no run_init_process record" >&2; cat "$work/a64-base.err" "$work/a64-jump.err" >&2; return 1; }
	printf '\narm64 (qemu-system-aarch64 -M virt -cpu max, -icount shift=0,sleep=off):\n'
	printf '  guest ns to run_init_process, unprobed     %12d\n' "$base_ts"
	printf '  ... with %5d jump-probe hits              %12d\n' "$hits" "$jump_ts"
	printf '  jump-engine boot / unprobed boot           %12.4f  (target <= 1.05; guest instructions)\n' \
		"$(echo "$jump_ts / $base_ts" | bc -l)"
	# The same unprobed boot again: the count repeats exactly (deterministic). Idle time jumps to
	# the next timer deadline, so the probed boot's extra instructions can move its waits by a
	# tick either way: the ratio's resolution is a tick (1/CONFIG_HZ) of the total, not a hit.
	# shellcheck disable=SC2046
	"$EKPROBE" --summary --symbols "$A64_VMLINUX" --format json -o "$work/a64-base2.json" "${a[@]}" \
		-- $(a64_qemu "$work/a64c") -append "$A64_APPEND" 2>"$work/a64-base2.err"
	base2_ts=$(grep '"probe":"m/ri"' "$work/a64-base2.json" | head -1 | sed 's/.*"ts_ns":\([0-9]*\).*/\1/')
	printf '  guest ns to run_init_process, unprobed again %10s  (%s)\n' "${base2_ts:-?}" \
		"$([ "${base2_ts:-}" = "$base_ts" ] && echo repeats exactly || echo differs)"
	printf '  (jump - unprobed) / hits                   %12.0f  ns (idle ends on timer ticks: a\n' \
		"$(echo "($jump_ts - $base_ts) / $hits" | bc -l)"
	printf '                                             difference below one tick is not resolved)\n'
	printf '  wall s (information only, machine shared)  %6.2f / %6.2f\n' \
		"$(echo "$w1 - $w0" | bc -l)" "$(echo "$jw1 - $jw0" | bc -l)"
	bench_arm64_gdb
}

# arm64, wall time: the trap engine's cost per hit beside gdb-multiarch's (a dprintf on each of
# the same functions), against the unprobed boot, interleaved over the rounds (no -icount).
bench_arm64_gdb() {
	local r f t0 t1 port qemu fl=(start_kernel setup_arch do_one_initcall __alloc_pages rest_init kernel_init)
	local -A aw=([base]=0 [trap]=0 [gdb]=0) ah=([trap]=0 [gdb]=0)
	if ! command -v gdb-multiarch >/dev/null; then
		echo "  trap engine vs gdb-multiarch: gdb-multiarch is not installed (scripts/deps.sh bench)"
		return 0
	fi
	for ((r = 1; r <= rounds; r++)); do
		echo "bench: arm64 round $r/$rounds: unprobed, trap engine, gdb-multiarch..." >&2
		t0=$(date +%s.%N)
		# shellcheck disable=SC2046
		$(a64_qemu_plain "$work/a64c") -append "$A64_APPEND" >/dev/null 2>&1
		t1=$(date +%s.%N)
		grep -q EKPROBE-GUEST-DONE "$work/a64c" || { echo "bench: arm64 base boot failed" >&2; return 1; }
		aw[base]=$(echo "${aw[base]} + $t1 - $t0" | bc -l)
		local args=(--engine trap)
		for f in "${fl[@]}"; do args+=(-p "p:bench/$f $f"); done
		t0=$(date +%s.%N)
		# shellcheck disable=SC2046
		"$EKPROBE" --summary --symbols "$A64_VMLINUX" -o "$work/a64-trap.txt" "${args[@]}" \
			-- $(a64_qemu_plain "$work/a64c") -append "$A64_APPEND" 2>"$work/a64-trap.err"
		t1=$(date +%s.%N)
		grep -q EKPROBE-GUEST-DONE "$work/a64c" || { echo "bench: arm64 trap boot failed" >&2; return 1; }
		aw[trap]=$(echo "${aw[trap]} + $t1 - $t0" | bc -l)
		ah[trap]=$(( ah[trap] + $(grep -v '^#' "$work/a64-trap.txt" | grep -c ' bench/' || true) ))
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		{
			echo "set pagination off"
			echo "set confirm off"
			echo "target remote 127.0.0.1:$port"
			for f in "${fl[@]}"; do echo "dprintf $f,\"bench/$f\\n\""; done
			echo "continue"
		} > "$work/a64-gdb.cmds"
		t0=$(date +%s.%N)
		# shellcheck disable=SC2046
		$(a64_qemu_plain "$work/a64c") -append "$A64_APPEND" -S -gdb "tcp:127.0.0.1:$port" \
			>/dev/null 2>&1 &
		qemu=$!
		gdb-multiarch -q -batch -nx -ex "set tcp connect-timeout 10" -x "$work/a64-gdb.cmds" \
			"$A64_VMLINUX" > "$work/a64-gdb.out" 2>&1 || true
		wait $qemu || true
		t1=$(date +%s.%N)
		grep -q EKPROBE-GUEST-DONE "$work/a64c" ||
			{ echo "bench: arm64 gdb boot failed" >&2; tail "$work/a64-gdb.out" >&2; return 1; }
		aw[gdb]=$(echo "${aw[gdb]} + $t1 - $t0" | bc -l)
		ah[gdb]=$(( ah[gdb] + $(grep -c '^bench/' "$work/a64-gdb.out" || true) ))
	done
	local b t g
	b=$(echo "${aw[base]} / $rounds" | bc -l)
	t=$(echo "(${aw[trap]} / $rounds - $b) * 1000 * $rounds / ${ah[trap]}" | bc -l)
	g=$(echo "(${aw[gdb]} / $rounds - $b) * 1000 * $rounds / ${ah[gdb]}" | bc -l)
	printf '  wall s: unprobed %.2f, trap engine %.2f (%d hits), gdb-multiarch %.2f (%d hits)\n' \
		"$b" "$(echo "${aw[trap]} / $rounds" | bc -l)" $(( ah[trap] / rounds )) \
		"$(echo "${aw[gdb]} / $rounds" | bc -l)" $(( ah[gdb] / rounds ))
	printf '  cost per hit, ms: trap engine %.3f, gdb-multiarch %.3f; trap / gdb %.2f\n' \
		"$t" "$g" "$(echo "$t / $g" | bc -l)"
}
if [ "${BENCH_ONLY:-}" = arm64 ]; then
	bench_arm64
	exit
fi

# BENCH_ONLY=plugin: only the plugin engine's part (at the end); BENCH_ONLY=handoff: only the
# --detach-after-handoff part (before it); BENCH_ONLY=arm64: only arm64's (above).
if [ -z "${BENCH_ONLY:-}" ]; then
grep -E ' [tT] __x64_sys_' "$SYSMAP" | awk '{print $3}' | sed 's/^__x64_sys_//' |
	grep -vxE "$used" | sort | sed 's/^/__x64_sys_/' > "$work/candidates"
echo "bench: finding 50 functions this boot never runs ($(wc -l < "$work/candidates") candidates)..." >&2
cand_args=()
while read -r f; do cand_args+=(-p "p:cand/$f $f"); done < "$work/candidates"
# shellcheck disable=SC2046
"$EKPROBE" --summary --symbols "$VMLINUX" -o "$work/cand.txt" "${cand_args[@]}" \
	-- qemu-system-x86_64 -display none -serial "file:$work/console" -no-reboot -m 256 \
	-kernel "$BZIMAGE" -initrd "$INITRD" -append "$APPEND" 2>"$work/cand.err"
awk '$1 == "#" && $3 == "trap" && $2 == 0 { sub("^cand/", "", $4); print $4 }' "$work/cand.txt" |
	sort | head -50 > "$work/idle"
[ "$(wc -l < "$work/idle")" -eq 50 ] || { echo "bench: could not find 50 idle functions" >&2; exit 1; }

qemu_args() { # qemu_args CONSOLE
	echo -display none -serial "file:$1" -no-reboot -m 256 -kernel "$BZIMAGE" -initrd "$INITRD"
}

now() { date +%s.%N; }

run_base() { # -> wall
	local t0 t1
	t0=$(now)
	# shellcheck disable=SC2046
	qemu-system-x86_64 $(qemu_args "$work/console") -append "$APPEND" >/dev/null 2>&1
	t1=$(now)
	grep -q EKPROBE-GUEST-DONE "$work/console" || { echo "bench: base boot failed" >&2; exit 1; }
	echo "$t1 - $t0" | bc -l
}

run_ekprobe() { # run_ekprobe IDLE(0|1) [ENGINE|placed] -> "wall hits idle_hits round_trips"
	local args=() f t0 t1
	# placed: the bench probes stay traps; the others go where ekprobe places them (auto).
	if [ "${2:-trap}" = placed ]; then
		args=(--engine auto)
		for f in $FUNCS; do args+=(--engine "bench/$f=trap"); done
	else
		args=(--engine "${2:-trap}")
	fi
	for f in $FUNCS; do args+=(-p "p:bench/$f $f"); done
	if [ "$1" = 1 ]; then while read -r f; do args+=(-p "p:idle/$f $f"); done < "$work/idle"; fi
	t0=$(now)
	# shellcheck disable=SC2046
	"$EKPROBE" --summary --symbols "$VMLINUX" -o "$work/ek.txt" "${args[@]}" \
		-- qemu-system-x86_64 $(qemu_args "$work/console") -append "$APPEND" 2>"$work/ek.err"
	t1=$(now)
	grep -q EKPROBE-GUEST-DONE "$work/console" || { echo "bench: ekprobe boot failed" >&2; cat "$work/ek.err" >&2; exit 1; }
	local hits idle rt ij
	hits=$(grep -cE '^ *[^#].* bench/' "$work/ek.txt" || true)
	idle=$(grep -cE '^ *[^#].* idle/' "$work/ek.txt" || true)
	rt=$(sed -n 's/^# .* stops, \([0-9]*\) gdbstub round trips.*/\1/p' "$work/ek.txt")
	ij=$(grep -c '^ekprobe-host: idle/.*: jump engine$' "$work/ek.err" || true)
	echo "$(echo "$t1 - $t0" | bc -l) $hits $idle ${rt:-0} $ij"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_gdb() { # run_gdb IDLE(0|1) -> "wall hits"
	local port f t0 t1 qemu
	port=$(free_port)
	{
		echo "set pagination off"
		echo "set confirm off"
		echo "target remote 127.0.0.1:$port"
		for f in $FUNCS; do echo "dprintf $f,\"bench/$f\\n\""; done
		if [ "$1" = 1 ]; then while read -r f; do echo "dprintf $f,\"idle/$f\\n\""; done < "$work/idle"; fi
		echo "continue"
	} > "$work/gdb.cmds"
	t0=$(now)
	# shellcheck disable=SC2046
	qemu-system-x86_64 $(qemu_args "$work/console") -append "$APPEND" -S \
		-gdb "tcp:127.0.0.1:$port" >/dev/null 2>&1 &
	qemu=$!
	# gdb retries the connection itself while QEMU opens the port.
	gdb -q -batch -nx -ex "set tcp connect-timeout 10" -x "$work/gdb.cmds" "$VMLINUX" \
		> "$work/gdb.out" 2>&1 || true
	wait $qemu || true
	t1=$(now)
	grep -q EKPROBE-GUEST-DONE "$work/console" || { echo "bench: gdb boot failed" >&2; tail "$work/gdb.out" >&2; exit 1; }
	echo "$(echo "$t1 - $t0" | bc -l) $(grep -c '^bench/' "$work/gdb.out" || true)"
}

declare -A wall hits rts
# The jump engine needs the ekprobe guest patch in the kernel (docs/guest.md).
have_jump=0
grep -q ' ekprobe_desc$' "$SYSMAP" && have_jump=1
add() { wall[$1]=$(echo "${wall[$1]:-0} + $2" | bc -l); hits[$1]=$(( ${hits[$1]:-0} + $3 )); }
idle_fired=0
for r in $(seq "$rounds"); do
	echo "bench: round $r/$rounds: unprobed boot..." >&2
	add base "$(run_base)" 0
	echo "bench: round $r/$rounds: ekprobe trap engine (7 probes)..." >&2
	read -r w h i rt _ < <(run_ekprobe 0); add ekprobe "$w" "$h"; rts[ekprobe]=$(( ${rts[ekprobe]:-0} + rt ))
	if [ "$have_jump" = 1 ]; then
		echo "bench: round $r/$rounds: ekprobe jump engine (7 probes)..." >&2
		read -r w h i rt _ < <(run_ekprobe 0 jump); add jump "$w" "$h"
	fi
	echo "bench: round $r/$rounds: gdb dprintf (7 probes)..." >&2
	read -r w h < <(run_gdb 0); add gdb "$w" "$h"
	echo "bench: round $r/$rounds: ekprobe + 50 idle probes..." >&2
	read -r w h i rt _ < <(run_ekprobe 1); add ekprobe+50 "$w" "$h"; idle_fired=$((idle_fired + i))
	rts[ekprobe+50]=$(( ${rts[ekprobe+50]:-0} + rt ))
	if [ "$have_jump" = 1 ]; then
		echo "bench: round $r/$rounds: ekprobe + 50 idle probes, placed by --engine auto..." >&2
		read -r w h i rt ij < <(run_ekprobe 1 placed); add placed+50 "$w" "$h"
		idle_jumps=$ij
		idle_fired=$((idle_fired + i))
	fi
	echo "bench: round $r/$rounds: gdb + 50 idle dprintfs..." >&2
	read -r w h < <(run_gdb 1); add gdb+50 "$w" "$h"
done

base=$(echo "${wall[base]} / $rounds" | bc -l)
printf '\nekprobe bench: %s rounds, probes on: %s\n' "$rounds" "$FUNCS"
printf '%-12s %10s %8s %14s %12s\n' run "wall (s)" hits "cost/hit (ms)" "x unprobed"
declare -A cph
runs="base ekprobe gdb ekprobe+50 gdb+50"
[ "$have_jump" = 1 ] && runs="base ekprobe jump gdb ekprobe+50 placed+50 gdb+50"
for k in $runs; do
	w=$(echo "${wall[$k]} / $rounds" | bc -l)
	h=$(( ${hits[$k]} / rounds ))
	if [ "$h" -gt 0 ]; then cph[$k]=$(echo "($w - $base) * 1000 / $h" | bc -l); else cph[$k]=0; fi
	printf '%-12s %10.2f %8d %14.2f %12.2f\n' "$k" "$w" "$h" "${cph[$k]}" "$(echo "$w / $base" | bc -l)"
done
printf '\nratios (same invocation):\n'
printf '  ekprobe cost/hit / gdb cost/hit            %6.2f\n' "$(echo "${cph[ekprobe]} / ${cph[gdb]}" | bc -l)"
printf '  ekprobe+50 cost/hit / ekprobe cost/hit     %6.2f\n' "$(echo "${cph[ekprobe+50]} / ${cph[ekprobe]}" | bc -l)"
printf '  gdb+50 cost/hit / gdb cost/hit             %6.2f\n' "$(echo "${cph[gdb+50]} / ${cph[gdb]}" | bc -l)"
if [ "$have_jump" = 1 ]; then
	printf '  placed+50 cost/hit / ekprobe cost/hit      %6.2f  (%s of the 50 idle probes as jumps)\n' \
		"$(echo "${cph[placed+50]} / ${cph[ekprobe]}" | bc -l)" "${idle_jumps:-?}"
fi
printf '  idle probes that fired (must be 0)         %6d\n' "$idle_fired"
if [ "$have_jump" = 1 ]; then
	printf '  jump-engine boot / unprobed boot           %6.3f  (target <= 1.05)\n' \
		"$(echo "${wall[jump]} / ${wall[base]}" | bc -l)"
	printf '  jump hits / trap hits                      %6.3f\n' \
		"$(echo "${hits[jump]} / ${hits[ekprobe]}" | bc -l)"
else
	echo "  (no jump engine: the kernel has no ekprobe guest patch)"
fi
printf '\nekprobe'"'"'s own work per hit (gdbstub round trips after arming / hits):\n'
printf '  ekprobe     %6.2f\n' "$(echo "${rts[ekprobe]} / ${hits[ekprobe]}" | bc -l)"
printf '  ekprobe+50  %6.2f\n' "$(echo "${rts[ekprobe+50]} / ${hits[ekprobe+50]}" | bc -l)"
cat <<'NOTE'

Wall-clock cost per hit under TCG is dominated by QEMU itself: every stop flushes all
translated code (gdb_vm_state_change -> tb_flush), and every page holding a breakpoint runs
one instruction per translation block with a scan of the whole breakpoint list
(accel/tcg/cpu-exec.c check_for_breakpoints_slow), whoever set the breakpoints. Idle probes
therefore slow gdb and ekprobe alike when they are breakpoints; ekprobe's own work per hit is
the round-trip line above. placed+50 keeps the idle probes out of QEMU's breakpoint list (they
are jumps into the guest's slots, which cost nothing until they run): its cost per hit is the
trap engine's on the same 7 probes, whatever else is armed.
NOTE
fi

# ---- --detach-after-handoff: the guest's own time from the handoff to /init ------------------
# Under -icount shift=0,sleep=off the guest's clock is QEMU's virtual clock: 1 ns per guest
# instruction, plus the jumps to the next timer while every vCPU idles (sleep=off); never the
# host's time (FIELD-NOTES 9). The kernel's printk timestamps (printk.time=1) read that clock.
# The span: from the first initcall after init_kprobe_trace (the handoff: the kprobe_event=
# probes are live, and ekprobe-host has detached at the return of that initcall) to "Run /init
# as init process" (initcall_debug names the initcalls). Two boots, interleaved over the rounds:
# the unprobed boot, and --detach-after-handoff with the 7 bench probes handed to the guest's
# own kprobe events (they keep recording in the guest, __alloc_pages and do_one_initcall among
# them). Before the handoff ekprobe's stops move the guest's clock too, so only the span after
# it is compared.
if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = handoff ]; then
HAPPEND="$APPEND initcall_debug printk.time=1 ekprobe.dmesg"
hq_args() { # hq_args CONSOLE
	echo -display none -serial "file:$1" -no-reboot -m 256 -kernel "$BZIMAGE" -initrd "$INITRD" \
		-icount shift=0,sleep=off -rtc clock=vm,base=2024-01-01T00:00:00
}
span() { # span CONSOLE -> guest ns from the first initcall after init_kprobe_trace to /init
	tr -d '\r' < "$1" | sed -n '/^EKPROBE-DMESG-BEGIN/,/^EKPROBE-DMESG-END/p' | awk '
		function ts(l) { return substr(l, 2, index(l, "]") - 2) + 0 }
		/initcall init_kprobe_trace\+.* returned/ { after = 1; next }
		after && !h && /calling / { h = ts($0) }
		/Run \/init as init process/ { i = ts($0) }
		END { if (!h || !i) exit 1; printf "%.0f\n", (i - h) * 1e9 }'
}
hsum_base=0 hsum_det=0
for r in $(seq "$rounds"); do
	echo "bench: handoff: round $r/$rounds: unprobed boot (-icount shift=0)..." >&2
	# shellcheck disable=SC2046
	qemu-system-x86_64 $(hq_args "$work/hb.console") -append "$HAPPEND" >/dev/null 2>&1
	b=$(span "$work/hb.console") || { echo "bench: handoff: no span in the unprobed boot" >&2; exit 1; }
	echo "bench: handoff: round $r/$rounds: --detach-after-handoff, 7 probes..." >&2
	hargs=()
	for f in $FUNCS; do hargs+=(-p "p:bench/$f $f"); done
	# shellcheck disable=SC2046
	"$EKPROBE" --engine trap --detach-after-handoff --symbols "$VMLINUX" -o "$work/hd.txt" \
		"${hargs[@]}" -- qemu-system-x86_64 $(hq_args "$work/hd.console") -append "$HAPPEND" \
		2>"$work/hd.err" || { cat "$work/hd.err" >&2; exit 1; }
	grep -q "detached at" "$work/hd.err" || { echo "bench: handoff: ekprobe did not detach" >&2; exit 1; }
	d=$(span "$work/hd.console") || { echo "bench: handoff: no span in the handoff boot" >&2; exit 1; }
	hsum_base=$((hsum_base + b)) hsum_det=$((hsum_det + d))
done
printf '\n--detach-after-handoff: guest time from the handoff to /init (-icount shift=0: guest ns =\n'
printf 'instructions, plus idle jumps to the next timer), mean of %s rounds:\n' "$rounds"
printf '  %-34s %14d ns\n' "unprobed boot" "$((hsum_base / rounds))"
printf '  %-34s %14d ns\n' "--detach-after-handoff (7 probes)" "$((hsum_det / rounds))"
printf '  handoff boot / unprobed boot      %14.4f  (target <= 1.05)\n' \
	"$(echo "$hsum_det / $hsum_base" | bc -l)"
[ "${BENCH_ONLY:-}" = handoff ] && exit 0
fi

# ---- the plugin engine (QEMU 10, scripts/qemu.sh) -----------------------------------------
# Side by side, interleaved over the same rounds, all on QEMU 10:
#   base10       the unprobed boot
#   idle2000     the plugin engine with 2,000 probes on functions this boot never runs
#   idle10000    ... 10,000 of them; also: time from ekprobe-host's start to the guest's first
#                instruction (the "armed ... before resuming the guest" line), and with 1 probe
#   plugin-hot   __alloc_pages, kmem_cache_alloc, kfree with fetch-args, plugin engine
#   jump-hot     the same probes on the jump engine (when the kernel has the guest patch)
# The idle functions are chosen by measurement: a first boot probes every function of the
# vmlinux with the plugin engine and keeps those with no hit, probed again until a boot loses
# no record (the figures count any that fires in the measured boots).
# no_timer_check: on a loaded host the kernel's IO-APIC timer check can time out under TCG and
# panic the boot ("IO-APIC + timer doesn't work"); every boot of this part skips it alike.
PAPPEND="$APPEND no_timer_check"
eval "$("$here/scripts/qemu.sh" print | sed 's/^\([A-Z_]*\)=\(.*\)$/Q10_\1="\2"/')"
q10_args() { echo $Q10_QEMU_ARGS -display none -serial "file:$1" -no-reboot -m 256 -kernel "$BZIMAGE" -initrd "$INITRD"; }
# Functions whose name no other symbol has (a probe on an ambiguous name is refused).
readelf -sW "$VMLINUX" | awk 'NF >= 8 { n[$8]++; if ($4 == "FUNC" && $3 > 0) f[$8] = 1 }
	END { for (s in f) if (n[s] == 1) print s }' | grep -E '^[A-Za-z_][A-Za-z0-9_]{0,55}$' | sort > "$work/funcs"
echo "bench: plugin: finding functions this boot never runs ($(wc -l < "$work/funcs") functions)..." >&2
# A hot function's records can all be lost when a ring fills (LOST), so a function counts as
# never run only after a pass with nothing lost: probe the zero-hit ones again until then.
cp "$work/funcs" "$work/never"
for pass in 1 2 3 4; do
	sed 's|.*|p:all/& &|' "$work/never" > "$work/p-all"
	# shellcheck disable=SC2046
	"$EKPROBE" --engine plugin --summary --poll-ms 1 --symbols "$VMLINUX" -o /dev/stdout --probes "$work/p-all" \
		-- "$Q10_QEMU" $(q10_args "$work/console") -append "$PAPPEND" 2>"$work/all.err" |
		grep '^#' > "$work/all.txt"
	awk '$1 == "#" && $3 == "plugin" && $2 == 0 { sub("^all/", "", $4); print $4 }' "$work/all.txt" |
		sort > "$work/never"
	grep -q 'records LOST' "$work/all.txt" || break
	[ $pass -lt 4 ] || { echo "bench: records still lost after 4 passes" >&2; exit 1; }
	echo "bench: plugin: pass $pass lost records; $(wc -l < "$work/never") functions with no hit, again..." >&2
done
echo "bench: plugin: $(wc -l < "$work/never") functions never ran" >&2
[ "$(wc -l < "$work/never")" -ge 10000 ] || { echo "bench: fewer than 10,000 idle functions" >&2; exit 1; }

stamp_lines() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
# CPU time (user + system, seconds) of a command and the children it waited for (ekprobe-host
# reaps its QEMU): on a host shared with other work it moves far less than wall time does.
cpu_sum() { awk '{ print $1 + $2 }' "$1"; }
run_plugin() { # run_plugin NAME ENGINE PROBEFILE -> "wall hits idle_hits to_first_insn lost cpu"
	local name=$1 engine=$2 pf=$3 t0 t1 TIMEFORMAT='%U %S'
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2046
	{ { time "$EKPROBE" --engine "$engine" --summary --symbols "$VMLINUX" -o "$work/$name.txt" --probes "$pf" \
		-- "$Q10_QEMU" $(q10_args "$work/console") -append "$PAPPEND" 2>&3 >/dev/null; } 3>&1 2>"$work/$name.cpu"; } |
		stamp_lines > "$work/$name.err"
	t1=$EPOCHREALTIME
	grep -q EKPROBE-GUEST-DONE "$work/console" || { echo "bench: $name boot failed" >&2; cat "$work/$name.err" >&2; tail -5 "$work/console" >&2; exit 1; }
	local armed hits idle lost
	armed=$(awk '/armed [0-9]+ probes? .*before resuming the guest/ { print $1; exit }' "$work/$name.err")
	hits=$(grep -cE '^ *[^#].* hot/' "$work/$name.txt" || true)
	idle=$(grep -cE '^ *[^#].* idle/' "$work/$name.txt" || true)
	lost=$(grep -c 'LOST\|dropped' "$work/$name.err" || true)
	echo "$(echo "$t1 - $t0" | bc -l) $hits $idle $(echo "${armed:-$t1} - $t0" | bc -l) $lost $(cpu_sum "$work/$name.cpu")"
}
head -2000 "$work/never" | sed 's|.*|p:idle/& &|' > "$work/p-idle2000"
head -10000 "$work/never" | sed 's|.*|p:idle/& &|' > "$work/p-idle10000"
head -1 "$work/never" | sed 's|.*|p:idle/& &|' > "$work/p-idle1"
printf '%s\n' 'p:hot/alloc __alloc_pages gfp=%di:x32 order=%si:u32' \
	'p:hot/cache kmem_cache_alloc s=%di flags=%si:x32 c=$comm' 'p:hot/kfree kfree p=%di' > "$work/p-hot"
declare -A pw ph pi pf pc
padd() { pw[$1]=$(echo "${pw[$1]:-0} + $2" | bc -l); ph[$1]=$(( ${ph[$1]:-0} + $3 )); pi[$1]=$(( ${pi[$1]:-0} + $4 ));
	pf[$1]=$(echo "${pf[$1]:-0} + $5" | bc -l); pc[$1]=$(echo "${pc[$1]:-0} + $6" | bc -l); }
have_jump=0
grep -q ' ekprobe_desc$' "$SYSMAP" && have_jump=1
lost_any=0
for r in $(seq "$rounds"); do
	echo "bench: plugin round $r/$rounds: unprobed boot (QEMU 10)..." >&2
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2046
	{ TIMEFORMAT='%U %S'; time "$Q10_QEMU" $(q10_args "$work/console") -append "$PAPPEND" >/dev/null 2>&1; } 2>"$work/base.cpu"
	padd base10 "$(echo "$EPOCHREALTIME - $t0" | bc -l)" 0 0 0 "$(cpu_sum "$work/base.cpu")"
	for run in idle1 idle2000 idle10000 plugin-hot jump-hot; do
		[ $run = jump-hot ] && [ $have_jump = 0 ] && continue
		eng=plugin pfile=$work/p-$run
		case $run in plugin-hot) pfile=$work/p-hot ;; jump-hot) eng=jump pfile=$work/p-hot ;; esac
		echo "bench: plugin round $r/$rounds: $run..." >&2
		read -r w h i f l c < <(run_plugin "$run" "$eng" "$pfile")
		padd "$run" "$w" "$h" "$i" "$f" "$c"
		lost_any=$((lost_any + l))
	done
done
b10=$(echo "${pw[base10]} / $rounds" | bc -l) c10=$(echo "${pc[base10]} / $rounds" | bc -l)
printf '\nplugin engine (QEMU %s), %s rounds\n' "$("$Q10_QEMU" -version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')" "$rounds"
printf '%-12s %10s %8s %14s %12s %14s %9s %10s %14s\n' run "wall (s)" hits "cost/hit (us)" "x unprobed" "to 1st insn (s)" \
	"cpu (s)" "cpu x unpr" "cpu/hit (us)"
for k in base10 idle1 idle2000 idle10000 plugin-hot jump-hot; do
	[ -n "${pw[$k]:-}" ] || continue
	w=$(echo "${pw[$k]} / $rounds" | bc -l); h=$(( ${ph[$k]} / rounds ))
	u=$(echo "${pc[$k]} / $rounds" | bc -l)
	c=0 cu=0; [ "$h" -gt 0 ] && c=$(echo "($w - $b10) * 1000000 / $h" | bc -l) cu=$(echo "($u - $c10) * 1000000 / $h" | bc -l)
	printf '%-12s %10.2f %8d %14.2f %12.3f %14.3f %9.2f %10.3f %14.2f\n' "$k" "$w" "$h" "$c" "$(echo "$w / $b10" | bc -l)" \
		"$(echo "${pf[$k]} / $rounds" | bc -l)" "$u" "$(echo "$u / $c10" | bc -l)" "$cu"
done
printf '\n  2,000 idle plugin probes: boot / unprobed boot   %6.3f  (target <= 1.10)\n' \
	"$(echo "${pw[idle2000]} / ${pw[base10]}" | bc -l)"
printf '  the same in CPU time (QEMU + ekprobe-host)      %6.3f\n' "$(echo "${pc[idle2000]} / ${pc[base10]}" | bc -l)"
# Boots differ a little (FIELD-NOTES 1): a few functions idle in the choosing boots may run here.
printf '  hits of the idle probes (boots differ a little) %6d\n' $(( pi[idle2000] + pi[idle10000] + pi[idle1] ))
printf '  runs that reported lost or dropped records      %6d\n' "$lost_any"

# arm64's part, when its kernel is built (make test builds it; BENCH_ONLY=arm64 runs it alone).
if [ -z "${BENCH_ONLY:-}" ] && EKPROBE_ARCH=arm64 EKPROBE_NO_BUILD=1 "$here/scripts/kernel.sh" print \
	>/dev/null 2>&1; then
	bench_arm64
fi
