#!/usr/bin/python3
"""A TCP proxy for security specs: forwards a client to an RPC server and
changes the server's Nth response PDU (ptype 2) on the way back.

    tamper_proxy.py UPSTREAM_HOST UPSTREAM_PORT ACTION N

ACTION: flip   - flip one bit in the stub (or the signature)
        sig    - flip one bit in the auth value (the signature)
        replay - send the previous response again, its call_id set to this one's
        strip  - remove the auth verifier (auth_length 0, trailer cut off)
        reqflip - flip one bit in the stub of the client's Nth request instead
        reqreplay - send the client's Nth request twice
        swap   - hold the Nth response back and send it after the next one
        reqswap - the same with the client's Nth and next requests
        none   - change nothing
Prints "listening on PORT" once ready; serves one connection at a time until
killed. Loopback only.
"""
import socket
import struct
import sys
import threading


def read_pdu(sock, buf):
    while len(buf) < 16:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    le = buf[4] & 0x10
    flen = struct.unpack("<H" if le else ">H", buf[8:10])[0]
    while len(buf) < flen:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    return buf[:flen], buf[flen:]


def change(pdu, action, prev):
    le = pdu[4] & 0x10
    e = "<" if le else ">"
    flen, alen = struct.unpack(e + "HH", pdu[8:12])
    p = bytearray(pdu)
    if action == "flip":
        p[24] ^= 0x01                      # first stub byte
    elif action == "sig" and alen:
        p[flen - alen + 4] ^= 0x01          # inside the checksum
    elif action == "replay" and prev is not None:
        q = bytearray(prev)
        q[12:16] = p[12:16]                 # this call's call_id
        return bytes(q)
    elif action == "strip" and alen:
        pad = p[flen - alen - 8 + 2]
        body_end = flen - alen - 8 - pad
        q = p[:body_end]
        struct.pack_into(e + "HH", q, 8, len(q), 0)
        return bytes(q)
    return bytes(p)


def serve(client, host, port, action, n):
    up = socket.create_connection((host, port))

    def c2s():
        buf, count, held = b"", 0, None
        try:
            while True:
                pdu, buf = read_pdu(client, buf)
                if pdu is None:
                    break
                if pdu[2] == 0:             # request
                    count += 1
                    if count == n and action == "reqswap":
                        held = pdu
                        continue
                    if count == n + 1 and held is not None:
                        up.sendall(pdu)
                        pdu, held = held, None
                    elif count == n and action == "reqflip":
                        p = bytearray(pdu)
                        p[24] ^= 0x01
                        pdu = bytes(p)
                    elif count == n and action == "reqreplay":
                        up.sendall(pdu)
                up.sendall(pdu)
        except OSError:
            pass
        try:
            up.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=c2s, daemon=True).start()
    buf, count, prev, held = b"", 0, None, None
    try:
        while True:
            pdu, buf = read_pdu(up, buf)
            if pdu is None:
                break
            if pdu[2] == 2:                 # response
                count += 1
                if count == n and action == "swap":
                    held = pdu
                    continue
                if count == n + 1 and held is not None:
                    client.sendall(pdu)
                    pdu, held = held, None
                    client.sendall(pdu)
                    continue
                out = change(pdu, action, prev) if count == n and not action.startswith("req") else pdu
                prev = pdu
                pdu = out
            client.sendall(pdu)
    except OSError:
        pass
    # shutdown first: a plain close() would wait for the c2s thread's recv
    # and the client would never see the server hang up
    for sock in (client, up):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    client.close()
    up.close()


def main():
    host, port, action, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, host, port, action, n), daemon=True).start()


if __name__ == "__main__":
    main()
