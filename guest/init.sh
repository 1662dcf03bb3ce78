#!/bin/sh
# /init of the default guest's initramfs: prove userspace was reached, then make QEMU exit
# (with -no-reboot, "reboot -f" ends QEMU with status 0; there is no ACPI for poweroff).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys 2>/dev/null
/bin/busybox mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo "EKPROBE-GUEST-READY"
# ekprobe.kprobes: the kernel's own kprobe events and kprobes, as it lists them (the
# tracefs file from debugfs' automount, or tracefs mounted on its own).
if /bin/busybox grep -q 'ekprobe.kprobes' /proc/cmdline; then
	t=/sys/kernel/debug/tracing
	[ -r $t/kprobe_events ] || { /bin/busybox mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; t=/sys/kernel/tracing; }
	echo "EKPROBE-KPROBE-EVENTS-BEGIN"
	/bin/busybox cat $t/kprobe_events
	echo "EKPROBE-KPROBE-EVENTS-END"
	echo "EKPROBE-KPROBES-LIST-BEGIN"
	/bin/busybox cat /sys/kernel/debug/kprobes/list
	echo "EKPROBE-KPROBES-LIST-END"
fi
if [ -r /sys/kernel/debug/tracing/trace ] && /bin/busybox grep -q 'ekprobe.dumptrace' /proc/cmdline; then
	# ekprobe.onecpu: every CPU but the first goes offline first, so that the one left is the
	# only one running when tracing stops (a test cuts the host's stream there too).
	if /bin/busybox grep -q 'ekprobe.onecpu' /proc/cmdline; then
		for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
			[ -w "$c" ] && echo 0 > "$c"
		done
	fi
	# The trace as it stands now: stop recording (tracer_tracing_off()), then read it.
	echo 0 > /sys/kernel/debug/tracing/tracing_on
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
