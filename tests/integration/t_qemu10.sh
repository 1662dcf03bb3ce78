#!/usr/bin/env bash
# The engine-comparison tests of Debian's QEMU 7.2 (t_jump_icount, t_jump_smp2, t_jump), run
# again on bookworm-backports' QEMU 10 (scripts/qemu.sh, unpacked into the cache), which the
# plugin engine needs: the trap and jump engines must keep working there. QEMU 10 boots -smp 2
# under -icount (QEMU 7.2 does not), so t_jump_icount compares -smp 1 and -smp 2 here.
. "$(dirname "$0")/lib.sh"
eval "$("$top/scripts/qemu.sh" print | sed 's/^\([A-Z_]*\)=\(.*\)$/export EKPROBE_\1="\2"/')"
if [ ! -x "${EKPROBE_QEMU:-}" ]; then
	fail "no QEMU 10 (scripts/qemu.sh print)"
	exit 1
fi
echo "    QEMU: $("$EKPROBE_QEMU" -version | head -1)"
here=$(dirname "$0")
for t in "t_jump_icount.sh 1 2" t_jump_smp2.sh t_jump.sh; do
	# shellcheck disable=SC2086
	if bash "$here"/$t 2>&1 | sed 's/^/  /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		echo "    ok: $t on QEMU 10"
	else
		fail "$t on QEMU 10"
	fi
done
exit $((failures > 0))
