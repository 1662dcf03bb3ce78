#!/usr/bin/env python3
"""Checks of the boot-analysis outputs (docs/labs.md), computed from the traces themselves:
nothing here knows a boot's numbers in advance.

  labs_check.py tracedat-vs-text REPORT TEXT [--systems DUMP]
      `trace-cmd report` output against ekprobe's text output of the same run: the same
      events, in the same order, with the same task, CPU, time, event name and values.
  labs_check.py perfetto PERFETTO JSONTRACE
      the trace-event JSON parses; every entry of a function whose return is probed has a
      slice whose duration is the matching return's; the slices of a thread nest.
  labs_check.py slowest JSONTRACE
      prints the slowest initcall (name and duration in ns) paired from the JSON trace.
  labs_check.py initcalls JSONTRACE
      prints how many do_one_initcall calls the JSON trace has (entries of the probe that
      opens them, with or without their return).
  labs_check.py serve DIR
      an HTTP server for DIR on 127.0.0.1: prints its port, then serves until killed.
  labs_check.py painted PNG COLOUR...
      the screenshot decoded (8-bit RGB/RGBA, every PNG filter), and how many pixels have
      each colour (hex RRGGBB); fails unless every colour was painted.
"""
import json
import re
import struct
import sys
import zlib

TEXT = re.compile(r'^\s*(?P<comm>.*?)-(?P<pid>-?\d+|\?)\s+\[(?P<cpu>\d+)\]\s+'
                  r'(?P<ts>\d+\.\d{6}):\s+(?P<name>\S+):\s+(?P<info>.*)$')


def fail(msg):
    print('    ' + msg)
    sys.exit(1)


def parse_lines(path, grouped):
    events = []
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line or line.startswith('#') or line.startswith('cpus=') or \
                    line.startswith('CPU:') or line.startswith('ekprobe-host:'):
                continue
            m = TEXT.match(line)
            if not m:
                fail(f'{path}:{n}: not an event line: {line!r}')
            d = m.groupdict()
            if grouped:
                group, _, d['name'] = d['name'].rpartition('/')
                d['group'] = group
            d['info'] = d['info'].rstrip()
            d['line'] = n
            events.append(d)
    return events


def tracedat_vs_text(report, text):
    rep = parse_lines(report, False)
    txt = parse_lines(text, True)
    if len(rep) != len(txt):
        fail(f'{len(rep)} events in trace-cmd report, {len(txt)} in the text output')
    for r, t in zip(rep, txt):
        tpid = '-1' if t['pid'] == '?' else t['pid']
        tcomm = t['comm'].strip()
        for key, a, b in (('task', (r['comm'].strip(), r['pid']), (tcomm, tpid)),
                          ('cpu', int(r['cpu']), int(t['cpu'])), ('time', r['ts'], t['ts']),
                          ('event', r['name'], t['name']), ('values', r['info'], t['info'])):
            if a != b:
                fail(f'{report}:{r["line"]} / {text}:{t["line"]}: {key} differs: {a!r} != {b!r}')
    print(f'    {len(rep)} events: same order, tasks, CPUs, times, names and values')


def load_json_trace(path):
    evs = []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if 'summary' not in o:
                evs.append(o)
    return evs


def task_key(e):
    if e['pid'] is None:
        return ('unknown', e['cpu'])
    if e['pid'] == 0:
        return ('idle', e['cpu'])
    return ('pid', e['pid'])


def paired_calls(evs):
    """(entry, return) pairs of the functions whose return is probed, per task, innermost
    return first; the first entry probe seen at a function's address opens its calls."""
    ret_funcs = {e['addr'] for e in evs if e['kind'] == 'return'}
    opener = {}
    for e in evs:
        if e['kind'] == 'entry' and e['addr'] in ret_funcs:
            opener.setdefault(e['addr'], e['probe'])
    closer = {}
    for e in evs:
        if e['kind'] == 'return':
            closer.setdefault(e['addr'], e['probe'])
    stacks, pairs = {}, []
    for e in evs:
        k = task_key(e)
        if e['kind'] == 'entry' and opener.get(e['addr']) == e['probe']:
            stacks.setdefault(k, []).append(e)
        elif e['kind'] == 'return' and closer.get(e['addr']) == e['probe']:
            st = stacks.get(k, [])
            for i in range(len(st) - 1, -1, -1):
                if st[i]['addr'] == e['addr']:
                    pairs.append((st[i], e))
                    del st[i:]
                    break
    return pairs


def initcall_name(entry):
    for v in entry['args'].values():
        if isinstance(v, str) and re.fullmatch(r'[A-Za-z_.$][\w.$]*\+0x[0-9a-f]+', v):
            return v[:-4] if v.endswith('+0x0') else v
    return entry['sym']


def perfetto(path, trace):
    with open(path) as f:
        doc = json.load(f)
    evs = doc['traceEvents']
    for e in evs:
        for key in ('ph', 'pid'):
            if key not in e:
                fail(f'a trace event without {key}: {e}')
    # Rebuild the slices from B/E per thread, and check that they nest: a slice begins
    # after its parent began and after its previous sibling ended, and ends after its last
    # child ended; an end closes the innermost open slice.
    stacks, last_end, slices = {}, {}, []
    for e in evs:
        if e['ph'] not in 'BE':
            continue
        k = (e['pid'], e['tid'])
        st = stacks.setdefault(k, [])
        if e['ph'] == 'B':
            floor = max([st[-1][0]['ts']] if st else [], default=None)
            sib = last_end.get((k, len(st)))
            if floor is not None and e['ts'] < floor:
                fail(f'{k}: slice {e["name"]} begins before its parent {st[-1][0]["name"]}')
            if sib is not None and e['ts'] < sib:
                fail(f'{k}: slice {e["name"]} at {e["ts"]} overlaps its previous sibling '
                     f'(ended at {sib})')
            st.append([e, None])
        else:
            if not st:
                fail(f'an end with no open slice on thread {k}: {e}')
            b, child_end = st.pop()
            if b['name'] != e['name']:
                fail(f'{k}: slice {b["name"]} closed by an end of {e["name"]}: they overlap')
            if e['ts'] < b['ts'] or (child_end is not None and e['ts'] < child_end):
                fail(f'{k}: slice {b["name"]} ends before it begins or before a child ends')
            last_end[(k, len(st))] = e['ts']
            for d in [d for d in last_end if d[0] == k and d[1] > len(st)]:
                del last_end[d]
            if st:
                st[-1][1] = e['ts']
            slices.append((k, b, e, len(st)))
    for k, st in stacks.items():
        if st:
            fail(f'thread {k}: {len(st)} slices never closed')
    # Every paired do_one_initcall of the JSON trace has its slice, with that duration.
    want = [(en, rt) for en, rt in paired_calls(load_json_trace(trace))
            if en['sym'].startswith('do_one_initcall+')]
    if not want:
        fail('the JSON trace has no do_one_initcall entry with its return')
    have = {}
    for k, b, e, depth in slices:
        have.setdefault((round(b['ts'] * 1000), b['name']), []).append(round((e['ts'] - b['ts']) * 1000))
    for en, rt in want:
        key = (en['ts_ns'], initcall_name(en))
        durs = have.get(key)
        if not durs:
            fail(f'no slice for the initcall {key[1]} entered at {en["ts_ns"]} ns')
        if rt['ts_ns'] - en['ts_ns'] not in durs:
            fail(f'the slice of {key[1]} at {en["ts_ns"]} lasts {durs} ns, its return came '
                 f'{rt["ts_ns"] - en["ts_ns"]} ns after the entry')
    print(f'    {len(evs)} trace events parse; {len(slices)} slices nest per thread; '
          f'all {len(want)} do_one_initcall calls are slices with their return\'s duration')


def slowest(trace):
    pairs = [(en, rt) for en, rt in paired_calls(load_json_trace(trace))
             if en['sym'].startswith('do_one_initcall+')]
    en, rt = max(pairs, key=lambda p: p[1]['ts_ns'] - p[0]['ts_ns'])
    print(initcall_name(en), rt['ts_ns'] - en['ts_ns'])


def initcalls(trace):
    evs = load_json_trace(trace)
    ret_funcs = {e['addr'] for e in evs if e['kind'] == 'return'}
    opener = None
    for e in evs:
        if e['kind'] == 'entry' and e['addr'] in ret_funcs and \
                e['sym'].startswith('do_one_initcall+'):
            opener = e['probe']
            break
    print(sum(1 for e in evs if e['kind'] == 'entry' and e['probe'] == opener))


def png_pixels(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        fail(f'{path}: not a PNG')
    at, idat, hdr = 8, b'', None
    while at < len(data):
        n, kind = struct.unpack('>I4s', data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if kind == b'IHDR':
            hdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        at += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f'{path}: PNG kind {depth}/{ctype}/{interlace} not read here')
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows = bytearray(stride), []
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def painted(path, colours):
    w, h, bpp, rows = png_pixels(path)
    counts = {}
    for row in rows:
        for x in range(0, len(row), bpp):
            counts[row[x:x + 3]] = counts.get(row[x:x + 3], 0) + 1
    ok = True
    for col in colours:
        n = counts.get(bytes.fromhex(col), 0)
        print(f'    {path}: {w}x{h}, {n} pixels of #{col}')
        ok = ok and n > 0
    if not ok:
        fail('a colour was not painted')


def serve(d):
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                          functools.partial(Quiet, directory=d))
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


def main():
    cmd = sys.argv[1]
    if cmd == 'tracedat-vs-text':
        tracedat_vs_text(sys.argv[2], sys.argv[3])
    elif cmd == 'perfetto':
        perfetto(sys.argv[2], sys.argv[3])
    elif cmd == 'slowest':
        slowest(sys.argv[2])
    elif cmd == 'initcalls':
        initcalls(sys.argv[2])
    elif cmd == 'serve':
        serve(sys.argv[2])
    elif cmd == 'painted':
        painted(sys.argv[2], sys.argv[3:])
    else:
        fail(f'unknown check {cmd}')


if __name__ == '__main__':
    main()
