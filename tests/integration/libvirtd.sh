# A private libvirt for a test (sourced after lib.sh): libvirtd with its QEMU driver and virtlogd,
# started here without systemd, their whole state (configuration, sockets, domains, logs) in a
# scratch directory under $TMP. The daemons run in a mount namespace of their own in which that
# directory is bound over libvirt's paths, so a libvirt of the system, running or not, is
# neither used nor touched. Clients reach the daemon through $LV_URI (the socket= parameter).
#
# Needs root (libvirt's QEMU driver in its privileged mode), the libvirt-qemu user and group
# (the driver looks them up before it reads qemu.conf; scripts/deps.sh test creates them), and
# qemu.conf's user/group root and security_driver none so that QEMU reads the kernel in the
# cache like the other tests' QEMU.
# shellcheck shell=bash

LV=$TMP/libvirt
LV_URI="qemu:///system?socket=$LV/run/libvirt-sock"
LV_PATHS="/etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt"
LV_DOMAINS=()   # defined by lv_define: destroyed and undefined by lv_stop

lv_virsh() { virsh -q -c "$LV_URI" "$@"; }

# Wait for a process that is not our child to exit (it was daemonized): its pidfd.
lv_wait_gone() { # PID SECONDS
	python3 -c 'import os, select, sys
try:
    fd = os.pidfd_open(int(sys.argv[1]))
except ProcessLookupError:
    sys.exit(0)
sys.exit(0 if select.select([fd], [], [], float(sys.argv[2]))[0] else 1)' "$1" "$2"
}

lv_start() {
	local d
	for d in libvirtd virtlogd virsh unshare python3; do
		command -v "$d" >/dev/null || { echo "    $d is missing: run scripts/deps.sh test as root"; return 1; }
	done
	[ "$(id -u)" -eq 0 ] || { echo "    libvirt's QEMU driver here needs root"; return 1; }
	getent passwd libvirt-qemu >/dev/null && getent group libvirt-qemu >/dev/null || {
		echo "    no libvirt-qemu user and group (libvirt's QEMU driver needs them): run scripts/deps.sh test as root"
		return 1
	}
	mkdir -p "$LV/etc" "$LV/run" "$LV/lib" "$LV/cache" "$LV/log"
	cat > "$LV/etc/qemu.conf" <<-EOF
	user = "root"
	group = "root"
	security_driver = "none"
	dynamic_ownership = 0
	remember_owner = 0
	cgroup_controllers = [ ]
	namespaces = [ ]
	EOF
	printf 'log_outputs = "3:file:%s/libvirtd.log"\n' "$LV" > "$LV/etc/libvirtd.conf"
	printf 'log_outputs = "3:file:%s/virtlogd.log"\n' "$LV" > "$LV/etc/virtlogd.conf"
	# Mount points for the binds, made here only where the system has none (removed again).
	: > "$LV/made"
	for d in $LV_PATHS; do
		[ -d "$d" ] || { mkdir "$d" && echo "$d" >> "$LV/made"; } || return 1
	done
	# -d: each daemon returns once its sockets listen; the first client call then waits for the
	# drivers (the QEMU driver probes QEMU's capabilities first, a few seconds).
	unshare -m --propagation private sh -c '
		lv=$1
		mount --bind "$lv/etc" /etc/libvirt && mount --bind "$lv/run" /run/libvirt &&
		mount --bind "$lv/lib" /var/lib/libvirt && mount --bind "$lv/cache" /var/cache/libvirt &&
		mount --bind "$lv/log" /var/log/libvirt &&
		virtlogd -d -p "$lv/virtlogd.pid" && exec libvirtd -d -p "$lv/libvirtd.pid"' sh "$LV" ||
		{ echo "    could not start libvirtd (log: $LV/libvirtd.log)"; return 1; }
	lv_virsh version >/dev/null 2>"$LV/version.err" ||
		{ cat "$LV/version.err"; tail -5 "$LV/libvirtd.log"; return 1; }
}

# lv_define NAME CONSOLE MEMFD(0|1) CMDLINE: a type='qemu' domain booting the default kernel,
# like lib.sh's qemu_cmd (256 MiB, ACPI, serial console to a file, -no-reboot: on_reboot
# destroy).
lv_define() {
	local name=$1 console=$2 memfd=$3 cmdline=$4 mb=""
	[ "$memfd" = 1 ] && mb="<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
	cat > "$LV/$name.xml" <<-EOF
	<domain type='qemu'>
	  <name>$name</name>
	  <memory unit='MiB'>256</memory>
	  <vcpu>1</vcpu>
	  $mb
	  <os>
	    <type arch='x86_64'>hvm</type>
	    <kernel>$BZIMAGE</kernel>
	    <initrd>$INITRD</initrd>
	    <cmdline>$cmdline</cmdline>
	  </os>
	  <features><acpi/><apic/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>destroy</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>${EKPROBE_QEMU:-/usr/bin/qemu-system-x86_64}</emulator>
	    <serial type='file'><source path='$console'/></serial>
	    <memballoon model='none'/>
	  </devices>
	</domain>
	EOF
	lv_virsh define "$LV/$name.xml" >/dev/null && LV_DOMAINS+=("$name")
}

lv_state() { lv_virsh domstate --reason "$1" 2>&1; }
# lv_end_state NAME: the state once libvirt has finished with a domain whose QEMU is ending.
# "in shutdown" is libvirt's passing state while it reaps QEMU (seen in CI right after
# ekprobe-host returned); wait up to 30 s for it to pass.
lv_end_state() {
	local state i
	for i in $(seq 60); do
		state=$(lv_state "$1")
		case $state in "in shutdown"*) sleep 0.5 ;; *) break ;; esac
	done
	echo "$state"
}

# Stop everything lv_start and lv_define made: domains, daemons, mount points.
lv_stop() {
	local d pid
	[ -d "$LV" ] || return 0
	if [ -S "$LV/run/libvirt-sock" ]; then
		for d in "${LV_DOMAINS[@]}"; do
			lv_virsh destroy "$d" >/dev/null 2>&1
			lv_virsh undefine "$d" >/dev/null 2>&1
		done
	fi
	for d in libvirtd virtlogd; do
		pid=$(cat "$LV/$d.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null && { lv_wait_gone "$pid" 20 || kill -9 "$pid" 2>/dev/null; }
	done
	[ -f "$LV/made" ] && while read -r d; do rmdir "$d"; done < "$LV/made"
	rm -f "$LV/made"
}

# Nothing of ours is left: no daemon, no QEMU of a test domain, no mount point.
lv_nothing_left() {
	local d pid
	for d in libvirtd virtlogd; do
		pid=$(cat "$LV/$d.pid" 2>/dev/null) || continue
		kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid")" != Z ] && { echo "    $d $pid still runs"; return 1; }
	done
	for d in "${LV_DOMAINS[@]}"; do
		pgrep -f -- "-name guest=$d," >/dev/null && { echo "    QEMU of $d still runs"; return 1; }
	done
	[ ! -e "$LV/made" ]
}

trap 'lv_stop; rm -rf "$TMP"' EXIT
