#!/usr/bin/env bash
# make demo: boot the embedded default kernel under QEMU (TCG) with the default probe list
# (guest/default.probes) and show the trace. The guest's console goes to a file, so the trace
# reads cleanly; its path is printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$here/scripts/kernel.sh" print)"
probes=${EKPROBE_PROBES:-$here/guest/default.probes}
console=$(mktemp /tmp/ekprobe-demo-console.XXXXXX)
echo "ekprobe demo: booting $BZIMAGE with the probes of $probes" >&2
echo "ekprobe demo: guest console -> $console" >&2
"$here/build/ekprobe-host" --summary --probes "$probes" --symbols "$VMLINUX" \
	-- qemu-system-x86_64 -display none -serial "file:$console" -no-reboot -m 256 \
	-kernel "$BZIMAGE" -initrd "$INITRD" -append "console=ttyS0 panic=-1 quiet nokaslr"
status=$?
grep -q EKPROBE-GUEST-DONE "$console" && echo "ekprobe demo: the guest reached /init and exited (console: $console)" >&2
exit $status
