#!/usr/bin/env python3
"""Record the raw bytes QEMU's QMP server sends, for tests/unit/test_qmp.c.

Usage (from the repo root):
    eval $(scripts/kernel.sh print)
    python3 tests/unit/data/qmp/capture.py "$BZIMAGE" "$INITRD" tests/unit/data/qmp

Each step writes <name>.txt with exactly the bytes received for it (CRLF kept), and
session.txt gets every byte QEMU sent in the whole session, in order.
"""
import os, socket, subprocess, sys, time

bz, initrd, outdir = sys.argv[1:4]
sock_path = "/tmp/ekprobe-qmp-capture-%d.sock" % os.getpid()
qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-S", "-qmp", "unix:%s,server=on,wait=off" % sock_path,
     "-nographic", "-m", "128", "-kernel", bz, "-initrd", initrd,
     "-append", "console=ttyS0 panic=-1 quiet nokaslr", "-no-reboot"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(200):
    if os.path.exists(sock_path):
        break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sock_path)
        break
    except OSError:
        time.sleep(0.05)
session = bytearray()
pending = bytearray()


def read_lines(n, timeout=30.0):
    """Return the raw bytes of the next n complete lines (received chunks are kept whole)."""
    global pending
    deadline = time.time() + timeout
    while pending.count(b"\n") < n:
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(65536)
        if not chunk:
            break
        session.extend(chunk)
        pending.extend(chunk)
    out = bytearray()
    for _ in range(n):
        i = pending.find(b"\n")
        if i < 0:
            break
        out += pending[: i + 1]
        pending = pending[i + 1:]
    return bytes(out)


def save(name, data):
    with open(os.path.join(outdir, name + ".txt"), "wb") as f:
        f.write(data)
    print(name, repr(data))


def send(obj):
    s.sendall(obj.encode() + b"\n")


save("greeting", read_lines(1))
# Ids follow the scheme of proto/qmp_client.c (1 for qmp_capabilities, then +1 per command),
# so tests/unit/test_qmp.c can replay these bytes verbatim to the real client.
send('{"execute": "qmp_capabilities", "id": 1}')
save("capabilities", read_lines(1))
send('{"execute": "query-status", "id": 2}')
save("query-status", read_lines(1))
send('{"execute": "no-such-command", "id": 3}')
save("error", read_lines(1))
send('{"execute": "cont", "id": 4}')
save("cont", read_lines(2))          # the return and the RESUME event, in arrival order
time.sleep(0.2)
send('{"execute": "stop", "id": 5}')
save("stop", read_lines(2))          # STOP event and the return, in arrival order
send('{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}, "id": 6}')
save("hmp", read_lines(1))
send('{"execute": "human-monitor-command", "arguments": {}, "id": 7}')
save("error-args", read_lines(1))
send('{"execute": "human-monitor-command", "arguments": {"command-line": "no-such-hmp"}, "id": 8}')
save("hmp-unknown", read_lines(1))
send('{"execute": "cont", "id": 9}')
save("cont2", read_lines(2))
save("shutdown", read_lines(1, timeout=120))   # SHUTDOWN at the end of the boot
tail = b""
s.settimeout(10)
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        session.extend(c)
        tail += c
except socket.timeout:
    pass
if pending or tail:                            # nothing was ever seen after SHUTDOWN
    save("tail", bytes(pending) + tail)
save("session", bytes(session))
rc = qemu.wait(timeout=30)
print("qemu exit status", rc)
os.unlink(sock_path) if os.path.exists(sock_path) else None
