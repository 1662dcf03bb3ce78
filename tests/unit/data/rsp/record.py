#!/usr/bin/env python3
# Record raw gdbstub byte streams from a real QEMU for tests/unit/test_rsp.c.
#
# Usage: tests/unit/data/rsp/record.py BZIMAGE INITRD [OUTDIR]
#
# For each exchange NAME it writes NAME.tx (the bytes we sent) and NAME.rx (every byte QEMU sent
# back until the reply packet was complete: the '+' ack, then "$...#cs"). Only the standard
# library is used; the protocol handling is deliberately naive (it is a recorder, not a client).
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

bz, initrd = sys.argv[1], sys.argv[2]
outdir = sys.argv[3] if len(sys.argv) > 3 else os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="ekp-rsp-rec-")


def qemu(sock, paused):
    args = ["qemu-system-x86_64", "-gdb", "unix:%s,server=on,wait=off" % sock,
            "-nographic", "-m", "128", "-smp", "2", "-no-reboot", "-kernel", bz,
            "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet nokaslr",
            "-serial", "null", "-monitor", "none", "-display", "none"]
    if paused:
        args.insert(1, "-S")
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    return p, s


def frame(payload):
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xff)


# a complete "$...#cs" after an optional ack
PKT = re.compile(rb"\$[^#]*#[0-9a-fA-F]{2}")


def read_until_packet(s, timeout=10.0):
    data = b""
    s.settimeout(timeout)
    while not PKT.search(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def save(name, tx, rx):
    with open(os.path.join(outdir, name + ".tx"), "wb") as f:
        f.write(tx)
    with open(os.path.join(outdir, name + ".rx"), "wb") as f:
        f.write(rx)


def xchg(s, name, payload, record=True):
    tx = frame(payload)
    s.sendall(tx)
    rx = read_until_packet(s)
    s.sendall(b"+")
    if record:
        save(name, tx, rx)
    return rx


def body(rx):
    return PKT.search(rx).group(0)[1:-3]


# --- 1: VM held by -S: no unsolicited stop reply on connect ---
sock = os.path.join(tmp, "a.sock")
p, s = qemu(sock, True)
s.settimeout(0.3)
try:
    early = s.recv(100)
except socket.timeout:
    early = b""
assert early == b"", early
xchg(s, "qsupported", b"qSupported:multiprocess+;vContSupported+")
xchg(s, "p-before-xml", b"p10")
xchg(s, "qxfer-target", b"qXfer:features:read:target.xml:0,ffb")
off = 0
i = 0
while True:
    rx = xchg(s, "qxfer-i386-64bit-%d" % i, b"qXfer:features:read:i386-64bit.xml:%x,ffb" % off)
    b = body(rx)
    # unescape to advance the offset
    data = re.sub(rb"\}(.)", lambda m: bytes([m.group(1)[0] ^ 0x20]), b[1:], flags=re.S)
    off += len(data)
    i += 1
    if b[:1] == b"l":
        break
xchg(s, "g-reset", b"g")
xchg(s, "p10-reset", b"p10")
xchg(s, "qfthreadinfo", b"qfThreadInfo")
xchg(s, "qsthreadinfo", b"qsThreadInfo")
xchg(s, "m-unmapped", b"mffffffff81000000,10")
xchg(s, "z0-insert", b"Z0,1000000,1")
tx = frame(b"vCont;c")
s.sendall(tx)
rx = read_until_packet(s, 60)
s.sendall(b"+")
save("vcont-c-stop", tx, rx)
xchg(s, "g-startup64", b"g")
xchg(s, "m-startup64", b"m1000000,10")
xchg(s, "z0-remove", b"z0,1000000,1")
s.close()
p.kill()
p.wait()

# --- 2: connect to a running VM: QEMU stops it and sends T02 unsolicited ---
sock = os.path.join(tmp, "b.sock")
p, s = qemu(sock, False)
rx = read_until_packet(s, 5)
save("connect-running", b"", rx)
s.sendall(b"+")
s.close()
p.kill()
p.wait()
os.unlink(sock)
print("recorded into", outdir)
