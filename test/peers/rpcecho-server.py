#!/usr/bin/python3
"""rpcecho-server.py - the project's own rpcecho reference server.

A small connection-oriented DCE/RPC server (C706 ch. 12, [MS-RPCE] 2.2.2) for
Samba's rpcecho test interface (librpc/idl/echo.idl):

    60a15ec5-4de8-11d7-a637-005056a20182 v1.0, NDR transfer syntax (NDR32)

It is enough to pass smbtorture's rpc.echo (also with [validate]) and to serve
as the interop peer of spec/conn_spec.lua. No authentication, no NDR64.

    usage: rpcecho-server.py [--host ADDR]... [--port N] [--log FILE]

Only loopback addresses are accepted for --host. Python 3 standard library only.
"""

import argparse
import asyncio
import ipaddress
import os
import signal
import struct
import sys
import time
import uuid

# ---------------------------------------------------------------- constants
PTYPE_REQUEST = 0
PTYPE_RESPONSE = 2
PTYPE_FAULT = 3
PTYPE_BIND = 11
PTYPE_BIND_ACK = 12
PTYPE_BIND_NAK = 13
PTYPE_ALTER = 14
PTYPE_ALTER_RESP = 15
PTYPE_AUTH3 = 16
PTYPE_SHUTDOWN = 17
PTYPE_CO_CANCEL = 18
PTYPE_ORPHANED = 19

PFC_FIRST = 0x01
PFC_LAST = 0x02
PFC_PENDING_CANCEL = 0x04
PFC_SUPPORT_HEADER_SIGN = 0x04  # same bit, bind/bind_ack only
PFC_CONC_MPX = 0x10
PFC_DID_NOT_EXECUTE = 0x20
PFC_MAYBE = 0x40
PFC_OBJECT_UUID = 0x80

# p_cont_def_result_t
RESULT_ACCEPTANCE = 0
RESULT_PROVIDER_REJECTION = 2
RESULT_NEGOTIATE_ACK = 3
# p_provider_reason_t
REASON_NOT_SPECIFIED = 0
REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
# bind_nak reasons
NAK_NOT_SPECIFIED = 0
NAK_PROTOCOL_VERSION_NOT_SUPPORTED = 4
NAK_AUTH_TYPE_NOT_RECOGNIZED = 8

# fault status codes
NCA_S_OP_RNG_ERROR = 0x1C010002
NCA_S_UNKNOWN_IF = 0x1C010003
NCA_S_PROTO_ERROR = 0x1C01000B
FAULT_BAD_STUB_DATA = 0x000006F7      # RPC_X_BAD_STUB_DATA / rpc_x_bad_stub_data
FAULT_OUT_OF_MEMORY = 0x1C010007      # nca_s_fault_remote_no_memory - too big

MUST_RECV_FRAG = 1432                 # C706: every implementation accepts this
OUR_MAX_FRAG = 5840                   # what we offer / accept (like Samba)
MAX_REQUEST = 16 * 1024 * 1024        # reassembled request stub limit
MAX_SLEEP = 600

ECHO_UUID = uuid.UUID("60a15ec5-4de8-11d7-a637-005056a20182")
ECHO_VERSION = (1, 0)
NDR20_UUID = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
NDR20_VERSION = 2
# bind time feature negotiation: 6cb71c2c-9812-4540-XXXX-000000000000; bytes
# 8-9 of the wire form (little-endian) are the feature bitmask
BTFN_PREFIX = uuid.UUID("6cb71c2c-9812-4540-0000-000000000000").bytes_le[:8]
FEATURE_SEC_CTX_MULTIPLEXING = 0x01
FEATURE_KEEP_CONN_ON_ORPHAN = 0x02
OUR_FEATURES = FEATURE_KEEP_CONN_ON_ORPHAN

ZERO_SYNTAX = b"\0" * 20

LOG = sys.stderr


def log(fmt, *args):
    try:
        LOG.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args if args else fmt))
        LOG.flush()
    except Exception:
        pass


class ProtocolError(Exception):
    """The peer broke the protocol: fault (if possible) and drop the connection."""


class BadStub(Exception):
    """The request stub could not be unmarshalled."""


# ---------------------------------------------------------------- NDR helpers
class Reader:
    """NDR32 unmarshalling of a request stub (octet stream starting 8-aligned)."""

    def __init__(self, data, little=True):
        self.data = data
        self.pos = 0
        self.e = "<" if little else ">"

    def align(self, n):
        pad = (-self.pos) % n
        if self.pos + pad > len(self.data):
            raise BadStub("alignment beyond the stub")
        self.pos += pad

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise BadStub("stub too short: want %d at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _num(self, fmt, size):
        self.align(size)
        return struct.unpack(self.e + fmt, self.take(size))[0]

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return self._num("H", 2)

    def u32(self):
        return self._num("I", 4)

    def u64(self):
        return self._num("Q", 8)


class Writer:
    """NDR32 little-endian marshalling of a reply stub."""

    def __init__(self):
        self.buf = bytearray()

    def align(self, n):
        self.buf += b"\0" * ((-len(self.buf)) % n)

    def u8(self, v):
        self.buf += struct.pack("<B", v & 0xFF)

    def u16(self, v):
        self.align(2)
        self.buf += struct.pack("<H", v & 0xFFFF)

    def u32(self, v):
        self.align(4)
        self.buf += struct.pack("<I", v & 0xFFFFFFFF)

    def u64(self, v):
        self.align(8)
        self.buf += struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)

    def raw(self, b):
        self.buf += b

    def bytes(self):
        return bytes(self.buf)


def pull_conformant_bytes(r, length):
    """[size_is(length)] uint8 data[] as a top-level [in] array: max_count, bytes."""
    count = r.u32()
    if count != length:
        raise BadStub("conformant size %d does not match length %d" % (count, length))
    return r.take(count)


def pull_utf16_string(r):
    """[string,charset(UTF16)] uint16 *: max_count, offset, actual_count, units."""
    maxc = r.u32()
    offset = r.u32()
    actual = r.u32()
    if offset != 0 or actual > maxc:
        raise BadStub("bad varying string bounds %d/%d/%d" % (maxc, offset, actual))
    data = r.take(actual * 2)
    if r.e == ">":  # re-encode big-endian units as little-endian for the reply
        data = b"".join(data[i + 1:i + 2] + data[i:i + 1] for i in range(0, len(data), 2))
    if actual == 0 or data[-2:] != b"\0\0":
        raise BadStub("string not NUL-terminated")
    return maxc, data


# ---------------------------------------------------------------- operations
# Each handler takes a Reader over the request stub and returns the reply stub
# (bytes); async handlers are awaited. BadStub -> fault 0x6f7.

def op_add_one(r):
    v = r.u32()
    w = Writer()
    w.u32(v + 1)
    return w.bytes()


def op_echo_data(r):
    n = r.u32()
    data = pull_conformant_bytes(r, n)
    w = Writer()
    w.u32(n)
    w.raw(data)
    return w.bytes()


def op_sink_data(r):
    n = r.u32()
    pull_conformant_bytes(r, n)
    return b""


def op_source_data(r):
    n = r.u32()
    if n > MAX_REQUEST:
        raise BadStub("SourceData length %d too large" % n)
    pattern = bytes(range(256))
    w = Writer()
    w.u32(n)
    w.raw((pattern * (n // 256 + 1))[:n])
    return w.bytes()


def op_test_call(r):
    # void TestCall([in,string,charset(UTF16)] uint16 *s1,
    #               [out,string,charset(UTF16)] uint16 **s2);
    _maxc, data = pull_utf16_string(r)
    n = len(data) // 2
    w = Writer()
    w.u32(0x00020000)      # referent id of the unique pointer *s2
    w.u32(n)               # max_count
    w.u32(0)               # offset
    w.u32(n)               # actual_count
    w.raw(data)
    return w.bytes()


def op_test_call2(r):
    # NTSTATUS TestCall2([in] uint16 level, [out,switch_is(level)] echo_Info *info);
    level = r.u16()
    w = Writer()
    w.u16(level)
    if level == 1:          # echo_info1 { uint8 v; }
        w.u8(10)
    elif level == 2:        # echo_info2 { uint16 v; }
        w.u16(20)
    elif level == 3:        # echo_info3 { uint32 v; }
        w.u32(30)
    elif level == 4:        # echo_info4 { hyper v; }
        w.u64(40)
    elif level == 5:        # echo_info5 { uint8 v1; hyper v2; }
        w.align(8)
        w.u8(50)
        w.u64(60)
    elif level == 6:        # echo_info6 { uint8 v1; echo_info1 info1; }
        w.u8(70)
        w.u8(80)
    elif level == 7:        # echo_info7 { uint8 v1; echo_info4 info4; }
        w.align(8)
        w.u8(80)
        w.u64(90)
    else:
        raise BadStub("TestCall2: unknown level %d" % level)
    w.u32(0)                # NTSTATUS NT_STATUS_OK
    return w.bytes()


async def op_test_sleep(r):
    seconds = r.u32()
    await asyncio.sleep(min(seconds, MAX_SLEEP))
    w = Writer()
    w.u32(seconds)
    return w.bytes()


def op_test_enum(r):
    # void TestEnum([in,out,ref] echo_Enum1 *foo1, [in,out,ref] echo_Enum2 *foo2,
    #               [in,out,ref,switch_is(*foo1)] echo_Enum3 *foo3);
    # echo_Enum1: enum16; echo_Enum2 { echo_Enum1 e1; echo_Enum1_32 e2 (v1_enum) };
    # echo_Enum3: union switch_type(echo_Enum1) { 1: echo_Enum1 e1; 2: echo_Enum2 e2 }
    foo1 = r.u16()
    r.align(4)
    e1 = r.u16()
    e2 = r.u32()
    level = r.u16()
    if level != foo1:
        raise BadStub("TestEnum: union discriminant %d != foo1 %d" % (level, foo1))
    if level == 1:
        arm = ("e1", r.u16())
    elif level == 2:
        r.align(4)
        arm = ("e2", r.u16(), r.u32())
    else:
        raise BadStub("TestEnum: unknown union arm %d" % level)
    w = Writer()
    w.u16(foo1)
    w.align(4)
    w.u16(2)                # like Samba: foo2->e1 = ECHO_ENUM2
    w.u32(e2)
    w.u16(level)
    if arm[0] == "e1":
        w.u16(arm[1])
    else:
        w.align(4)
        w.u16(arm[1])
        w.u32(arm[2])
    return w.bytes()


def op_test_surrounding(r):
    # void TestSurrounding([in,out,ref] echo_Surrounding *data);
    # echo_Surrounding { uint32 x; [size_is(x)] uint16 surrounding[*]; }
    maxc = r.u32()          # conformance hoisted to the front of the struct
    x = r.u32()
    if maxc != x:
        raise BadStub("TestSurrounding: max_count %d != x %d" % (maxc, x))
    r.take(2 * x)
    out = (2 * x) & 0xFFFFFFFF
    if out > MAX_REQUEST:
        raise BadStub("TestSurrounding: x too large")
    w = Writer()
    w.u32(out)
    w.u32(out)
    w.raw(b"\0\0" * out)
    return w.bytes()


def op_test_double_pointer(r):
    # uint16 TestDoublePointer([in] uint16 ***data);
    value = 0
    if r.u32() != 0:
        if r.u32() != 0:
            value = r.u16()
    w = Writer()
    w.u16(value)
    return w.bytes()


OPERATIONS = {
    0: ("AddOne", op_add_one),
    1: ("EchoData", op_echo_data),
    2: ("SinkData", op_sink_data),
    3: ("SourceData", op_source_data),
    4: ("TestCall", op_test_call),
    5: ("TestCall2", op_test_call2),
    6: ("TestSleep", op_test_sleep),
    7: ("TestEnum", op_test_enum),
    8: ("TestSurrounding", op_test_surrounding),
    9: ("TestDoublePointer", op_test_double_pointer),
}


# ---------------------------------------------------------------- association groups
class Groups:
    def __init__(self):
        self.members = {}               # id -> number of connections
        self.next_id = 0x12340000 + (os.getpid() & 0xFFFF) * 0x10

    def new(self):
        while True:
            self.next_id = (self.next_id + 1) & 0xFFFFFFFF
            if self.next_id and self.next_id not in self.members:
                break
        self.members[self.next_id] = 1
        return self.next_id

    def join(self, gid):
        if gid not in self.members:
            return False
        self.members[gid] += 1
        return True

    def leave(self, gid):
        if gid in self.members:
            self.members[gid] -= 1
            if self.members[gid] <= 0:
                del self.members[gid]


GROUPS = Groups()
CONNECTIONS = set()


# ---------------------------------------------------------------- PDUs
def header(ptype, flags, frag_length, call_id, auth_length=0):
    # rpc_vers 5, rpc_vers_minor 0, drep: little-endian, ASCII, IEEE
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, flags, b"\x10\0\0\0",
                       frag_length, auth_length, call_id)


def parse_syntax(b, e):
    """p_syntax_id_t (in the sender's byte order) -> (uuid, major, minor, uuid wire bytes LE)."""
    if e == "<":
        u = uuid.UUID(bytes_le=b[:16])
    else:
        u = uuid.UUID(bytes=b[:16])
    version = struct.unpack(e + "I", b[16:20])[0]
    return u, version & 0xFFFF, version >> 16, u.bytes_le


def syntax_bytes(u, major, minor):
    return u.bytes_le + struct.pack("<HH", major, minor)


class Connection:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.name = "%s:%s" % (peer[0], peer[1]) if peer else "?"
        self.bound = False
        self.assoc_group = 0
        self.contexts = {}              # p_cont_id -> True (rpcecho over NDR20)
        self.max_xmit = MUST_RECV_FRAG  # what we may send
        self.max_recv = OUR_MAX_FRAG
        self.pending = {}               # call_id -> [p_cont_id, opnum, object, bytearray, drep]
        self.tasks = set()
        self.closing = False

    # ------------------------------------------------------------ transport
    async def read_pdu(self):
        """Returns (hdr dict, body bytes) or None at EOF."""
        try:
            head = await self.reader.readexactly(16)
        except asyncio.IncompleteReadError as e:
            if e.partial:
                log("%s: truncated header at EOF", self.name)
            return None
        vers, minor, ptype, flags, drep, = struct.unpack("<BBBB4s", head[:8])
        e = "<" if drep[0] & 0x10 else ">"
        frag_length, auth_length, call_id = struct.unpack(e + "HHI", head[8:16])
        if vers != 5 or minor not in (0, 1):
            raise ProtocolError("version %d.%d" % (vers, minor))
        if frag_length < 16:
            raise ProtocolError("frag_length %d" % frag_length)
        try:
            body = await self.reader.readexactly(frag_length - 16)
        except asyncio.IncompleteReadError:
            log("%s: truncated PDU at EOF", self.name)
            return None
        if auth_length and auth_length + 8 > len(body):
            raise ProtocolError("auth_length %d beyond the fragment" % auth_length)
        hdr = dict(ptype=ptype, flags=flags, drep=drep, e=e, frag_length=frag_length,
                   auth_length=auth_length, call_id=call_id)
        return hdr, body

    def send(self, data):
        if not self.writer.is_closing():
            self.writer.write(data)

    def send_fault(self, call_id, status, p_cont_id=0, flags=0):
        body = struct.pack("<IHBBII", 0, p_cont_id, 0, 0, status, 0)
        self.send(header(PTYPE_FAULT, PFC_FIRST | PFC_LAST | flags, 16 + len(body), call_id) + body)

    def send_response(self, call_id, p_cont_id, stub):
        # stub bytes per fragment: a multiple of 8 so that the NDR stream stays
        # aligned in each fragment
        room = (self.max_xmit - 24) & ~7
        out = bytearray()
        pos = 0
        first = True
        while True:
            chunk = stub[pos:pos + room]
            last = pos + len(chunk) >= len(stub)
            flags = (PFC_FIRST if first else 0) | (PFC_LAST if last else 0)
            out += header(PTYPE_RESPONSE, flags, 24 + len(chunk), call_id)
            out += struct.pack("<IHBB", len(stub) - pos, p_cont_id, 0, 0)
            out += chunk
            pos += len(chunk)
            first = False
            if last:
                break
        self.send(bytes(out))         # all fragments of a call back to back

    # ------------------------------------------------------------ main loop
    async def run(self):
        CONNECTIONS.add(self)
        log("%s: connected", self.name)
        try:
            while True:
                got = await self.read_pdu()
                if got is None:
                    break
                hdr, body = got
                self.dispatch(hdr, body)
                await self.writer.drain()
        except ProtocolError as ex:
            log("%s: protocol error: %s; closing", self.name, ex)
        except (ConnectionError, OSError) as ex:
            log("%s: %s", self.name, ex)
        finally:
            for t in list(self.tasks):
                t.cancel()
            if self.assoc_group:
                GROUPS.leave(self.assoc_group)
            CONNECTIONS.discard(self)
            try:
                self.writer.close()
            except Exception:
                pass
            log("%s: closed", self.name)

    def dispatch(self, hdr, body):
        ptype = hdr["ptype"]
        if ptype == PTYPE_BIND:
            self.on_bind(hdr, body, alter=False)
        elif ptype == PTYPE_ALTER:
            self.on_bind(hdr, body, alter=True)
        elif ptype == PTYPE_REQUEST:
            self.on_request(hdr, body)
        elif ptype == PTYPE_CO_CANCEL:
            log("%s: co_cancel call_id=%d (ignored)", self.name, hdr["call_id"])
        elif ptype == PTYPE_ORPHANED:
            log("%s: orphaned call_id=%d", self.name, hdr["call_id"])
            self.pending.pop(hdr["call_id"], None)  # drop a half-received request
        elif ptype == PTYPE_AUTH3:
            log("%s: auth3 ignored", self.name)
        else:
            self.send_fault(hdr["call_id"], NCA_S_PROTO_ERROR, flags=PFC_DID_NOT_EXECUTE)
            raise ProtocolError("unexpected ptype %d" % ptype)

    # ------------------------------------------------------------ bind / alter_context
    def send_nak(self, call_id, reason):
        # bind_nak: provider_reject_reason, versions supported (5.0)
        body = struct.pack("<HBBB", reason, 1, 5, 0)
        body += b"\0" * ((-len(body)) % 4)
        self.send(header(PTYPE_BIND_NAK, PFC_FIRST | PFC_LAST, 16 + len(body), call_id) + body)

    def on_bind(self, hdr, body, alter):
        e = hdr["e"]
        call_id = hdr["call_id"]
        what = "alter_context" if alter else "bind"
        if len(body) < 12:
            raise ProtocolError("short %s" % what)
        max_xmit, max_recv, group = struct.unpack(e + "HHI", body[:8])
        n_ctx = body[8]
        if not alter:
            if self.bound:
                log("%s: second bind on the connection", self.name)
                self.send_nak(call_id, NAK_NOT_SPECIFIED)
                return
            if hdr["auth_length"]:
                log("%s: bind with authentication: not supported", self.name)
                self.send_nak(call_id, NAK_AUTH_TYPE_NOT_RECOGNIZED)
                return
            if group:
                if not GROUPS.join(group):
                    log("%s: bind names unknown association group 0x%x", self.name, group)
                    self.send_nak(call_id, NAK_NOT_SPECIFIED)
                    return
            else:
                group = GROUPS.new()
            self.assoc_group = group
            # what we may send: the client's max_recv (at least 1432, at most ours)
            self.max_xmit = max(MUST_RECV_FRAG, min(max_recv, OUR_MAX_FRAG))
            self.max_recv = max(MUST_RECV_FRAG, min(max_xmit, OUR_MAX_FRAG))
            self.bound = True
        elif not self.bound:
            self.send_fault(call_id, NCA_S_PROTO_ERROR, flags=PFC_DID_NOT_EXECUTE)
            raise ProtocolError("alter_context before bind")

        results = []
        pos = 12
        features = None
        for _ in range(n_ctx):
            if pos + 24 > len(body):
                raise ProtocolError("%s context list beyond the PDU" % what)
            cont_id, n_ts = struct.unpack(e + "HB", body[pos:pos + 3])
            abstract = parse_syntax(body[pos + 4:pos + 24], e)
            pos += 24
            transfers = []
            for _ in range(n_ts):
                if pos + 20 > len(body):
                    raise ProtocolError("%s transfer syntaxes beyond the PDU" % what)
                transfers.append(parse_syntax(body[pos:pos + 20], e))
                pos += 20
            results.append(self.negotiate(cont_id, abstract, transfers, alter))
            if results[-1][0] == RESULT_NEGOTIATE_ACK:
                features = results[-1][1]

        flags = PFC_FIRST | PFC_LAST
        if hdr["flags"] & PFC_CONC_MPX:
            flags |= PFC_CONC_MPX
        if alter:
            sec_addr = struct.pack("<H", 0)
        else:
            port = self.writer.get_extra_info("sockname")[1]
            s = str(port).encode() + b"\0"
            sec_addr = struct.pack("<H", len(s)) + s
        out = struct.pack("<HHI", self.max_xmit, self.max_recv, self.assoc_group) + sec_addr
        out += b"\0" * ((-(16 + len(out))) % 4)
        out += struct.pack("<BBH", len(results), 0, 0)
        for result, reason, syntax in results:
            out += struct.pack("<HH", result, reason) + syntax
        ptype = PTYPE_ALTER_RESP if alter else PTYPE_BIND_ACK
        self.send(header(ptype, flags, 16 + len(out), call_id) + out)
        log("%s: %s call_id=%d group=0x%x max_xmit=%d results=%s%s", self.name, what, call_id,
            self.assoc_group, self.max_xmit, [r[0] for r in results],
            "" if features is None else " features=0x%x" % features)

    def negotiate(self, cont_id, abstract, transfers, alter):
        """-> (result, reason, transfer syntax bytes) for one presentation context."""
        # bind time feature negotiation ([MS-RPCE] 3.3.1.5.3)
        for ts_uuid, _major, _minor, raw in transfers:
            if raw[:8] == BTFN_PREFIX and raw[10:16] == b"\0" * 6:
                if alter:
                    break
                bits = struct.unpack("<H", raw[8:10])[0]
                return (RESULT_NEGOTIATE_ACK, bits & OUR_FEATURES, ZERO_SYNTAX)
        a_uuid, a_major, a_minor, _ = abstract
        if a_uuid != ECHO_UUID or a_major != ECHO_VERSION[0] or a_minor > ECHO_VERSION[1]:
            return (RESULT_PROVIDER_REJECTION, REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED, ZERO_SYNTAX)
        for ts_uuid, major, minor, _raw in transfers:
            if ts_uuid == NDR20_UUID and major == NDR20_VERSION and minor == 0:
                self.contexts[cont_id] = True
                return (RESULT_ACCEPTANCE, 0, syntax_bytes(NDR20_UUID, NDR20_VERSION, 0))
        return (RESULT_PROVIDER_REJECTION, REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED, ZERO_SYNTAX)

    # ------------------------------------------------------------ requests
    def on_request(self, hdr, body):
        e = hdr["e"]
        flags = hdr["flags"]
        call_id = hdr["call_id"]
        if not self.bound:
            self.send_fault(call_id, NCA_S_PROTO_ERROR, flags=PFC_DID_NOT_EXECUTE)
            raise ProtocolError("request before bind")
        if len(body) < 8:
            raise ProtocolError("short request")
        _alloc_hint, cont_id, opnum = struct.unpack(e + "IHH", body[:8])
        pos = 8
        obj = None
        if flags & PFC_OBJECT_UUID:
            if len(body) < 24:
                raise ProtocolError("short request with object uuid")
            obj = body[8:24]
            pos = 24
        end = len(body)
        if hdr["auth_length"]:
            # sec_trailer: auth_type, auth_level, auth_pad_length, ...
            end = len(body) - hdr["auth_length"] - 8
            end -= body[end + 2]
            if end < pos:
                raise ProtocolError("auth padding beyond the stub")
        stub = body[pos:end]

        if flags & PFC_FIRST:
            if call_id in self.pending:
                log("%s: call_id %d restarted", self.name, call_id)
            self.pending[call_id] = [cont_id, opnum, obj, bytearray(stub), hdr["drep"]]
        else:
            p = self.pending.get(call_id)
            if p is None:
                # a fragment of a call we do not know (orphaned, or never started)
                self.send_fault(call_id, NCA_S_PROTO_ERROR, flags=PFC_DID_NOT_EXECUTE)
                raise ProtocolError("fragment of unknown call_id %d" % call_id)
            p[3] += stub
            if len(p[3]) > MAX_REQUEST:
                del self.pending[call_id]
                self.send_fault(call_id, FAULT_OUT_OF_MEMORY, cont_id, PFC_DID_NOT_EXECUTE)
                raise ProtocolError("request call_id %d too large" % call_id)
        if not flags & PFC_LAST:
            return
        cont_id, opnum, obj, data, drep = self.pending.pop(call_id)
        if cont_id not in self.contexts:
            self.send_fault(call_id, NCA_S_UNKNOWN_IF, cont_id, PFC_DID_NOT_EXECUTE)
            return
        op = OPERATIONS.get(opnum)
        if op is None:
            log("%s: call_id=%d opnum %d out of range", self.name, call_id, opnum)
            self.send_fault(call_id, NCA_S_OP_RNG_ERROR, cont_id, PFC_DID_NOT_EXECUTE)
            return
        little = bool(drep[0] & 0x10)
        task = asyncio.ensure_future(self.execute(call_id, cont_id, opnum, op, bytes(data), little))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def execute(self, call_id, cont_id, opnum, op, data, little):
        name, fn = op
        try:
            res = fn(Reader(data, little))
            if asyncio.iscoroutine(res):
                res = await res
        except BadStub as ex:
            log("%s: call_id=%d %s: bad stub: %s", self.name, call_id, name, ex)
            self.send_fault(call_id, FAULT_BAD_STUB_DATA, cont_id, PFC_DID_NOT_EXECUTE)
            return
        except asyncio.CancelledError:
            raise
        except Exception as ex:  # a bug here must not kill the connection silently
            log("%s: call_id=%d %s failed: %r", self.name, call_id, name, ex)
            self.send_fault(call_id, NCA_S_PROTO_ERROR, cont_id)
            return
        log("%s: call_id=%d %s in=%d out=%d", self.name, call_id, name, len(data), len(res))
        self.send_response(call_id, cont_id, res)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass


# ---------------------------------------------------------------- main
async def serve(hosts, port):
    servers = []
    for h in hosts:
        try:
            srv = await asyncio.start_server(lambda r, w: Connection(r, w).run(), h, port,
                                             reuse_address=True)
        except OSError as ex:
            if h == "::1" and len(hosts) > 1:
                log("not listening on [::1]:%d: %s", port, ex)
                continue
            raise
        servers.append(srv)
        log("listening on %s", ", ".join(
            "[%s]:%d" % s.getsockname()[:2] if ":" in s.getsockname()[0] else "%s:%d" % s.getsockname()[:2]
            for s in srv.sockets))
    if not servers:
        raise SystemExit("no listener")

    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: stop.done() or stop.set_result(s))
    sig = await stop
    log("signal %d: shutting down", sig)
    for srv in servers:
        srv.close()
    # tell every client the server is going away (shutdown PDU), then close
    for c in list(CONNECTIONS):
        c.send(header(PTYPE_SHUTDOWN, PFC_FIRST | PFC_LAST, 16, 0))
        try:
            await asyncio.wait_for(c.writer.drain(), 1)
        except Exception:
            pass
        c.writer.close()
    for srv in servers:
        await srv.wait_closed()


def main():
    global LOG
    ap = argparse.ArgumentParser(description="rpcecho reference server (loopback only)")
    ap.add_argument("--host", action="append", help="listen address (repeatable); default 127.0.0.1 and ::1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("RPCECHO_PORT", "60135")))
    ap.add_argument("--log", help="append the log here instead of stderr")
    args = ap.parse_args()
    hosts = args.host or ["127.0.0.1", "::1"]
    for h in hosts:
        try:
            if not ipaddress.ip_address(h).is_loopback:
                raise ValueError
        except ValueError:
            ap.error("refusing non-loopback listen address %r" % h)
    if args.log:
        LOG = open(args.log, "a", buffering=1)
    try:
        asyncio.run(serve(hosts, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
