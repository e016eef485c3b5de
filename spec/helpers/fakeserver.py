#!/usr/bin/python3
"""Scripted hostile DCE/RPC server for conn_spec.lua (one connection, one
scenario). Prints "PORT <n>" on stdout once listening, then one line per
event worth checking ("SAW co_cancel call_id=3"), then "DONE".

    fakeserver.py SCENARIO [--host 127.0.0.1]
"""
import socket
import struct
import sys
import time

NDR32 = bytes.fromhex('045d888aeb1cc9119fe808002b104860') + struct.pack('<I', 2)
PT_REQUEST, PT_RESPONSE, PT_FAULT, PT_BIND, PT_BIND_ACK, PT_BIND_NAK = 0, 2, 3, 11, 12, 13
PT_CO_CANCEL, PT_ORPHANED = 18, 19
FIRST, LAST, DNE = 0x01, 0x02, 0x20


def say(*a):
    print(*a, flush=True)


def hdr(ptype, flags, call_id, body_len, auth_len=0, le=True, vers=(5, 0), frag_len=None):
    fl = 16 + body_len if frag_len is None else frag_len
    if le:
        return struct.pack('<BBBB4sHHI', vers[0], vers[1], ptype, flags, b'\x10\0\0\0', fl, auth_len, call_id)
    return struct.pack('>BBBB4sHHI', vers[0], vers[1], ptype, flags, b'\0\0\0\0', fl, auth_len, call_id)


def read_pdu(c):
    h = b''
    while len(h) < 16:
        x = c.recv(16 - len(h))
        if not x:
            return None
        h += x
    fl = struct.unpack_from('<H', h, 8)[0]
    body = b''
    while len(body) < fl - 16:
        x = c.recv(fl - 16 - len(body))
        if not x:
            return None
        body += x
    return h[2], h[3], struct.unpack_from('<I', h, 12)[0], body


def bind_ack(call_id, body, frag=5840, le=True, flags=FIRST | LAST):
    n = body[8]
    e = '<' if le else '>'
    b = struct.pack(e + 'HHI', frag, frag, 0x4242)
    b += struct.pack(e + 'H', 4) + b'999\0'                 # 16+8+2+4 = 30: pad 2
    b += b'\0' * ((-len(b) - 16) % 4)
    b += struct.pack('<B3x', n)
    for _ in range(n):
        if le:
            b += struct.pack('<HH', 0, 0) + NDR32
        else:
            u = NDR32[:16]
            beu = u[3::-1] + u[5:3:-1] + u[7:5:-1] + u[8:]
            b += struct.pack('>HH', 0, 0) + beu + struct.pack('>I', 2)
    return hdr(PT_BIND_ACK, flags, call_id, len(b), le=le) + b


def response(call_id, stub, flags=FIRST | LAST, le=True):
    e = '<' if le else '>'
    b = struct.pack(e + 'IHBB', len(stub), 0, 0, 0) + stub
    return hdr(PT_RESPONSE, flags, call_id, len(b), le=le) + b


def fault(call_id, status, flags=FIRST | LAST):
    b = struct.pack('<IHBBII', 0, 0, 0, 0, status, 0)
    return hdr(PT_FAULT, flags, call_id, len(b)) + b


def main():
    scenario = sys.argv[1]
    host = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == '--host' else '127.0.0.1'
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, 0))
    ls.listen(1)
    ls.settimeout(20)
    say('PORT', ls.getsockname()[1])
    c, _ = ls.accept()
    c.settimeout(20)
    try:
        run(scenario, c)
    except (socket.timeout, ConnectionError) as e:
        say('ERR', type(e).__name__)
    c.close()
    say('DONE')


def run(s, c):
    p = read_pdu(c)
    if p is None:
        say('SAW', 'close')
        return
    pt, flags, cid, body = p
    say('SAW', 'bind' if pt == PT_BIND else pt, 'call_id=%d' % cid)
    if s == 'small_frag':
        c.sendall(bind_ack(cid, body, frag=1000))
        return read_pdu(c)
    if s == 'bind_nak':
        b = struct.pack('<HB', 4, 1) + b'\5\0'
        c.sendall(hdr(PT_BIND_NAK, FIRST | LAST, cid, len(b)) + b)
        return read_pdu(c)
    le = s != 'big_endian'
    c.sendall(bind_ack(cid, body, le=le))
    p = read_pdu(c)
    if p is None:
        return
    pt, flags, cid, body = p
    say('SAW', 'request' if pt == PT_REQUEST else pt, 'call_id=%d' % cid)
    if s == 'wrong_call_id':
        c.sendall(response(cid + 5, b'oops'))
    elif s == 'truncated':
        c.sendall(response(cid, b'abcdefgh')[:10])
    elif s == 'fraglen_small':
        c.sendall(hdr(PT_RESPONSE, FIRST | LAST, cid, 0, frag_len=12) + b'\0' * 8)
    elif s == 'fraglen_big':
        c.sendall(hdr(PT_RESPONSE, FIRST | LAST, cid, 0, frag_len=200) + b'\0' * 20)
    elif s == 'auth_len':
        c.sendall(hdr(PT_RESPONSE, FIRST | LAST, cid, 16, auth_len=30) + b'\0' * 16)
    elif s == 'bad_ptype':
        c.sendall(hdr(99, FIRST | LAST, cid, 8) + b'\0' * 8)
    elif s == 'bad_version':
        c.sendall(hdr(PT_RESPONSE, FIRST | LAST, cid, 8, vers=(4, 0)) + b'\0' * 8)
    elif s == 'drop_mid_response':
        c.sendall(response(cid, b'x' * 100, flags=FIRST))
        time.sleep(0.1)
        return
    elif s == 'dne_fault':
        c.sendall(fault(cid, 0x1c010002, flags=FIRST | LAST | DNE))
    elif s == 'fault':
        c.sendall(fault(cid, 0x00000005))
    elif s == 'huge_response':
        # alloc_hint announces ~4 GiB; fragments of 5800 bytes stream up to
        # 64 MiB (never LAST) until the client hangs up
        chunk = b'\xab' * 5800
        b = struct.pack('<IHBB', 0xfffffff0, 0, 0, 0) + chunk
        first = hdr(PT_RESPONSE, FIRST, cid, len(b)) + b
        rest = hdr(PT_RESPONSE, 0, cid, len(b)) + b
        sent = len(chunk)
        c.sendall(first)
        try:
            while sent < 64 * 1024 * 1024:
                c.sendall(rest)
                sent += len(chunk)
        except OSError:
            pass
        say('SENT', sent)
        return
    elif s == 'big_endian':
        c.sendall(response(cid, b'\0\0\0\x2a', le=False))
    elif s == 'silent':
        # never answer; report what the client sends next, then answer late
        p = read_pdu(c)
        if p:
            name = {PT_CO_CANCEL: 'co_cancel', PT_ORPHANED: 'orphaned'}.get(p[0], str(p[0]))
            say('SAW', name, 'call_id=%d' % p[2])
            c.sendall(response(p[2], b'late'))        # discarded by the client
            p = read_pdu(c)                           # the next call
            if p:
                say('SAW', 'request' if p[0] == PT_REQUEST else p[0], 'call_id=%d' % p[2])
                c.sendall(response(p[2], b'next'))
    # wait for the client to hang up
    c.settimeout(3)
    try:
        while read_pdu(c):
            pass
    except socket.timeout:
        pass


if __name__ == '__main__':
    main()
