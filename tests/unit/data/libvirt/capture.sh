#!/usr/bin/env bash
# Record what test_libvirt.c reads, from a real libvirtd (9.0) and QEMU (7.2), as root from the
# top of the tree: a private daemon (tests/integration/libvirtd.sh) and a domain booting the
# default kernel with shared memfd RAM, started paused. Files: the domain's XML shut off and
# live, monitor replies passed through libvirt (query-status, query-cpus-fast, an error), the
# /proc status of QEMU's first vCPU thread and QEMU's /proc cmdline.
set -u
. tests/integration/lib.sh
. tests/integration/libvirtd.sh
D=tests/unit/data/libvirt
lv_start || exit 1
lv_define ekp-capture "$TMP/console" 1 "$APPEND" || exit 1
lv_virsh dumpxml ekp-capture > $D/domain-inactive.xml
lv_virsh start --paused ekp-capture >/dev/null
lv_virsh dumpxml ekp-capture > $D/domain-live.xml
lv_virsh qemu-monitor-command ekp-capture '{"execute":"query-cpus-fast"}' > $D/query-cpus-fast.json
lv_virsh qemu-monitor-command ekp-capture '{"execute":"query-status"}' > $D/query-status.json
lv_virsh qemu-monitor-command ekp-capture \
	'{"execute":"chardev-remove","arguments":{"id":"ekprobe-gdb"}}' > $D/error.json 2>&1
tid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["return"][0]["thread-id"])' \
	$D/query-cpus-fast.json)
cat /proc/"$tid"/status > $D/proc-status.txt
cat /proc/"$(sed -n 's/^Tgid:\t//p' $D/proc-status.txt)"/cmdline > $D/qemu-cmdline.bin
lv_virsh destroy ekp-capture >/dev/null
