#!/usr/bin/python3
"""A TCP proxy between an SMB client and a server (loopback) that alters
one protected message on its way back to the client.

    smb_tamper_proxy.py UPSTREAM_PORT ACTION N

Server frames (4-byte length prefix, as on port 445) are counted from 1;
the first one at or after N that is signed (SMB2_FLAGS_SIGNED) or
encrypted (a TRANSFORM_HEADER) is changed:

    sig   flip a bit of the SMB2 signature
    body  flip a bit of the last byte of the message (signed or encrypted)
    sess  change the TRANSFORM_HEADER's SessionId
    size  add one to the TRANSFORM_HEADER's OriginalMessageSize
    flags set the TRANSFORM_HEADER's Flags to 0

Prints "listening on PORT" once ready; serves one connection at a time
until killed.
"""
import socket
import struct
import sys
import threading


def frames(sock):
    buf = b""
    while True:
        while len(buf) < 4:
            d = sock.recv(65536)
            if not d:
                return
            buf += d
        n = struct.unpack(">I", b"\0" + buf[1:4])[0]
        while len(buf) < 4 + n:
            d = sock.recv(65536)
            if not d:
                return
            buf += d
        yield buf[:4 + n]
        buf = buf[4 + n:]


def alter(f, action):
    p = bytearray(f)
    m = p[4:]
    transform = m[:4] == b"\xfdSMB"
    signed = m[:4] == b"\xfeSMB" and struct.unpack("<I", m[16:20])[0] & 8
    if not (transform or signed):
        return None
    if action == "sig" and signed:
        p[4 + 48] ^= 0x01
    elif action == "body":
        p[-1] ^= 0x01
    elif action == "sess" and transform:
        p[4 + 44] ^= 0x01
    elif action == "size" and transform:
        size = struct.unpack("<I", bytes(p[4 + 36:4 + 40]))[0]
        struct.pack_into("<I", p, 4 + 36, size + 1)
    elif action == "flags" and transform:
        struct.pack_into("<H", p, 4 + 42, 0)
    else:
        return None
    return bytes(p)


def pump_up(src, dst):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            dst.sendall(d)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client, port, action, n):
    up = socket.create_connection(("127.0.0.1", port))
    threading.Thread(target=pump_up, args=(client, up), daemon=True).start()
    i, done = 0, False
    try:
        for f in frames(up):
            i += 1
            if not done and i >= n:
                g = alter(f, action)
                if g is not None:
                    f, done = g, True
            client.sendall(f)
    except OSError:
        pass
    for s in (client, up):
        try:
            s.close()
        except OSError:
            pass


def main():
    port, action, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, port, action, n), daemon=True).start()


main()
