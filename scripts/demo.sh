#!/usr/bin/env bash
# make demo: boot the embedded default kernel under QEMU (TCG) with the default probe list
# (guest/default.probes; guest/arm64.probes for make demo ARCH=arm64) and show the trace. The
# guest's console goes to a file, so the trace reads cleanly; its path is printed at the end.
# KERNEL=debian (make demo KERNEL=debian): Debian 12's own cloud kernel as it ships
# (scripts/debian-kernel.sh), KASLR on, its symbols read from the vmlinuz itself.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
case "${EKPROBE_ARCH:-x86_64}" in
arm64 | aarch64)
	default_probes=$here/guest/arm64.probes
	qemu=(qemu-system-aarch64 -M virt -cpu max)
	append="console=ttyAMA0 panic=-1 quiet nokaslr"
	;;
*)
	default_probes=$here/guest/default.probes
	qemu=(qemu-system-x86_64)
	append="console=ttyS0 panic=-1 quiet nokaslr"
	;;
esac
probes=${EKPROBE_PROBES:-$default_probes}
console=$(mktemp /tmp/ekprobe-demo-console.XXXXXX)
if [ "${KERNEL:-}" = debian ]; then
	eval "$("$here/scripts/debian-kernel.sh" print)"
	probes=${EKPROBE_PROBES:-$here/guest/distro.probes}
	echo "ekprobe demo: booting $VERSION ($KERNEL) with KASLR on, the probes of $probes" >&2
	echo "ekprobe demo: guest console -> $console" >&2
	status=0
	"$here/build/ekprobe-host" --summary --probes "$probes" \
		-- qemu-system-x86_64 -display none -serial "file:$console" -no-reboot -m 512 \
		-kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1 quiet" || status=$?
	grep -q EKPROBE-GUEST-DONE "$console" && echo "ekprobe demo: the guest reached /init and exited (console: $console)" >&2
	exit $status
elif [ -n "${KERNEL:-}" ]; then
	echo "ekprobe demo: KERNEL=$KERNEL: expected debian (or nothing: the default kernel)" >&2
	exit 2
fi
eval "$("$here/scripts/kernel.sh" print)"
echo "ekprobe demo: booting $BZIMAGE with the probes of $probes" >&2
echo "ekprobe demo: guest console -> $console" >&2
"$here/build/ekprobe-host" --summary --probes "$probes" --symbols "$VMLINUX" \
	-- "${qemu[@]}" -display none -serial "file:$console" -no-reboot -m 256 \
	-kernel "$BZIMAGE" -initrd "$INITRD" -append "$append"
status=$?
grep -q EKPROBE-GUEST-DONE "$console" && echo "ekprobe demo: the guest reached /init and exited (console: $console)" >&2
exit $status
