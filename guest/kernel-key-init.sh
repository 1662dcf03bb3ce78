#!/bin/sh
# /init of the default guest's initramfs: prove userspace was reached, then make QEMU exit
# (with -no-reboot, "reboot -f" ends QEMU with status 0; there is no ACPI for poweroff).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys 2>/dev/null
/bin/busybox mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo "EKPROBE-GUEST-READY"
if [ -r /sys/kernel/debug/tracing/trace ] && /bin/busybox grep -q 'ekprobe.dumptrace' /proc/cmdline; then
	echo "EKPROBE-TRACE-BEGIN"
	/bin/busybox cat /sys/kernel/debug/tracing/trace
	echo "EKPROBE-TRACE-END"
fi
if /bin/busybox grep -q 'ekprobe.dmesg' /proc/cmdline; then
	echo "EKPROBE-DMESG-BEGIN"
	/bin/busybox dmesg
	echo "EKPROBE-DMESG-END"
fi
echo "EKPROBE-GUEST-DONE"
/bin/busybox reboot -f
