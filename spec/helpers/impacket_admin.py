#!/usr/bin/python3
# impacket_admin.py: request and response stubs of lsarpc, svcctl and winreg
# calls, built with Impacket (an encoder independent of ours) for
# spec/iface_admin_spec.lua. Prints one line per case: "name hex", or
# "name ERROR message" when Impacket could not build it.
#
# Impacket picks referent ids at random; here every non-null pointer gets the
# id Samba's (and our) encoder gives it, 0x00020000 + 4*n in the order the
# pointers are written, so the stubs can be compared byte for byte.
# Exits 3 when Impacket is missing.
import sys

import importlib.util
import re
import struct

# Impacket fills alignment padding with marker bytes (0xaa, 0xbd, ...) where
# Samba, Windows and we write zeros; padding is not data (receivers skip it),
# so its NDR module is loaded with zero padding, before the interface modules
# import it.
try:
    _spec = importlib.util.find_spec('impacket.dcerpc.v5.ndr')
    with open(_spec.origin) as _f:
        _src = re.sub(r"b'\\x[0-9a-fA-F]{2}'\*(pad0?)\b", r"b'\\x00'*\1", _f.read())
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules['impacket.dcerpc.v5.ndr'] = _mod
    exec(compile(_src, _spec.origin, 'exec'), _mod.__dict__)
    from impacket.dcerpc.v5 import ndr, lsad, lsat, scmr, rrp
    from impacket.dcerpc.v5.dtypes import NULL, RPC_SID, DWORD
except Exception as e:  # pragma: no cover
    print("impacket missing: %s" % e, file=sys.stderr)
    sys.exit(3)

_counter = [0]
_orig_getdata = ndr.NDRPOINTER.getData


def _getdata(self, soFar=0):
    if self.fields.get('ReferentID', 0) != 0:
        if not getattr(self, '_lua_dcerpc_id', None):
            self._lua_dcerpc_id = 0x00020000 + 4 * _counter[0]
            _counter[0] += 1
        self.fields['ReferentID'] = self._lua_dcerpc_id
    return _orig_getdata(self, soFar)


ndr.NDRPOINTER.getData = _getdata


def stub(obj):
    _counter[0] = 0
    return obj.getData().hex()


def handle(n):
    # the 20-byte handle the spec uses: attributes 0, uuid bytes 0x11 * n ...
    return bytes([0, 0, 0, 0]) + bytes([n] * 16)


def set_handle(obj, key, n):
    h = obj.fields[key] if key in obj.fields else obj[key]
    if 'context_handle_uuid' in h.fields:
        h['context_handle_attributes'] = 0
        h['context_handle_uuid'] = bytes([n] * 16)
    else:
        obj[key] = handle(n)


def set_filetime(obj, v):
    obj['lpftLastWriteTime']['dwLowDateTime'] = v & 0xffffffff
    obj['lpftLastWriteTime']['dwHighDateTime'] = v >> 32


def sid(s):
    x = RPC_SID()
    x.fromCanonical(s)
    return x


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# ------------------------------------------------------------------ lsarpc
@case
def lsa_OpenPolicy2_req():
    r = lsad.LsarOpenPolicy2()
    r['SystemName'] = '\\\\127.0.0.1\x00'
    r['ObjectAttributes']['Length'] = 24
    r['ObjectAttributes']['RootDirectory'] = NULL
    r['ObjectAttributes']['ObjectName'] = NULL
    r['ObjectAttributes']['Attributes'] = 0
    r['ObjectAttributes']['SecurityDescriptor'] = NULL
    q = r['ObjectAttributes']['SecurityQualityOfService']
    q['Length'] = 12
    q['ImpersonationLevel'] = 2
    q['ContextTrackingMode'] = 1
    q['EffectiveOnly'] = 0
    r['DesiredAccess'] = 0x02000000
    return stub(r)


@case
def lsa_OpenPolicy2_rep():
    r = lsad.LsarOpenPolicy2Response()
    r['PolicyHandle'] = handle(1)
    r['ErrorCode'] = 0
    return stub(r)


@case
def lsa_Close_req():
    r = lsad.LsarClose()
    r['ObjectHandle'] = handle(1)
    return stub(r)


@case
def lsa_QueryInformationPolicy2_req():
    r = lsad.LsarQueryInformationPolicy2()
    r['PolicyHandle'] = handle(1)
    r['InformationClass'] = 12
    return stub(r)


@case
def lsa_QueryInformationPolicy_req():
    r = lsad.LsarQueryInformationPolicy()
    r['PolicyHandle'] = handle(1)
    r['InformationClass'] = 5
    return stub(r)


def policy_rep(cls, fill):
    r = lsad.LsarQueryInformationPolicy2Response()
    r['PolicyInformation']['tag'] = cls
    fill(r['PolicyInformation'])
    r['ErrorCode'] = 0
    return stub(r)


@case
def lsa_QueryInformationPolicy2_L3_rep():
    def f(u):
        u['PolicyPrimaryDomainInfo']['Name'] = 'RPCTEST'
        u['PolicyPrimaryDomainInfo']['Sid'] = sid('S-1-5-21-1-2-3')
    return policy_rep(3, f)


@case
def lsa_QueryInformationPolicy2_L5_rep():
    def f(u):
        u['PolicyAccountDomainInfo']['DomainName'] = 'RPCSRV'
        u['PolicyAccountDomainInfo']['DomainSid'] = sid('S-1-5-21-570980444-294173684-222828579')
    return policy_rep(5, f)


@case
def lsa_QueryInformationPolicy2_L12_rep():
    def f(u):
        d = u['PolicyDnsDomainInfo']
        d['Name'] = 'EXAMPLE'
        d['DnsDomainName'] = 'example.com'
        d['DnsForestName'] = 'example.com'
        d['DomainGuid'] = bytes.fromhex('33221100554477668899aabbccddeeff')
        d['Sid'] = sid('S-1-5-21-11-22-33')
    return policy_rep(12, f)


@case
def lsa_QueryInformationPolicy2_L2_rep():
    def f(u):
        a = u['PolicyAuditEventsInfo']
        a['AuditingMode'] = 1
        for v in (0, 1, 2, 3, 0, 0, 1, 0, 3):
            d = DWORD()
            d['Data'] = v
            a['EventAuditingOptions'].append(d)
        a['MaximumAuditEventCount'] = 9
    return policy_rep(2, f)


@case
def lsa_EnumerateAccounts_req():
    r = lsad.LsarEnumerateAccounts()
    r['PolicyHandle'] = handle(1)
    r['EnumerationContext'] = 0
    r['PreferedMaximumLength'] = 0xffffffff
    return stub(r)


@case
def lsa_EnumerateAccounts_rep():
    r = lsad.LsarEnumerateAccountsResponse()
    r['EnumerationContext'] = 3
    buf = r['EnumerationBuffer']
    buf['EntriesRead'] = 3
    for s in ('S-1-5-32-544', 'S-1-5-32-545', 'S-1-1-0'):
        e = lsad.LSAPR_ACCOUNT_INFORMATION()
        e['Sid'] = sid(s)
        buf['Information'].append(e)
    r['ErrorCode'] = 0
    return stub(r)


@case
def lsa_EnumerateTrustedDomainsEx_req():
    r = lsad.LsarEnumerateTrustedDomainsEx()
    r['PolicyHandle'] = handle(1)
    r['EnumerationContext'] = 0
    r['PreferedMaximumLength'] = 0x10000
    return stub(r)


@case
def lsa_EnumerateTrustedDomainsEx_rep():
    r = lsad.LsarEnumerateTrustedDomainsExResponse()
    r['EnumerationContext'] = 1
    buf = r['EnumerationBuffer']
    buf['Entries'] = 1
    e = lsad.LSAPR_TRUSTED_DOMAIN_INFORMATION_EX()
    e['Name'] = 'other.example'
    e['FlatName'] = 'OTHER'
    e['Sid'] = sid('S-1-5-21-7-8-9')
    e['TrustDirection'] = 3
    e['TrustType'] = 2
    e['TrustAttributes'] = 8
    buf['EnumerationBuffer'].append(e)
    r['ErrorCode'] = 0
    return stub(r)


@case
def lsa_EnumerateTrustedDomains_req():
    r = lsad.LsarEnumerateTrustedDomains()
    r['PolicyHandle'] = handle(1)
    r['EnumerationContext'] = 5
    r['PreferedMaximumLength'] = 0x1000
    return stub(r)


LOOKUP_SIDS = ('S-1-5-21-1-2-3-500', 'S-1-5-32-544', 'S-1-5-21-1-2-3-1000', 'S-1-1-0')


def sid_enum(buf):
    buf['Entries'] = len(LOOKUP_SIDS)
    for s in LOOKUP_SIDS:
        e = lsat.LSAPR_SID_INFORMATION()
        e['Sid'] = sid(s)
        buf['SidInfo'].append(e)


@case
def lsa_LookupSids2_req():
    r = lsat.LsarLookupSids2()
    r['PolicyHandle'] = handle(1)
    sid_enum(r['SidEnumBuffer'])
    r['TranslatedNames']['Entries'] = 0
    r['TranslatedNames']['Names'] = NULL
    r['LookupLevel'] = 1
    r['MappedCount'] = 0
    r['LookupOptions'] = 0
    r['ClientRevision'] = 2
    return stub(r)


@case
def lsa_LookupSids3_req():
    r = lsat.LsarLookupSids3()
    sid_enum(r['SidEnumBuffer'])
    r['TranslatedNames']['Entries'] = 0
    r['TranslatedNames']['Names'] = NULL
    r['LookupLevel'] = 2
    r['MappedCount'] = 0
    r['LookupOptions'] = 0x80000000
    r['ClientRevision'] = 2
    return stub(r)


def ref_domains(rd, doms):
    rd['Entries'] = len(doms)
    rd['MaxEntries'] = 32
    for name, s in doms:
        t = lsad.LSAPR_TRUST_INFORMATION()
        t['Name'] = name
        t['Sid'] = sid(s)
        rd['Domains'].append(t)


@case
def lsa_LookupSids2_rep():
    r = lsat.LsarLookupSids2Response()
    ref_domains(r['ReferencedDomains'], [('RPCSRV', 'S-1-5-21-1-2-3'), ('BUILTIN', 'S-1-5-32'),
                                         ('', 'S-1-1')])
    tn = r['TranslatedNames']
    tn['Entries'] = 4
    for use, name, idx in ((1, 'Administrator', 0), (4, 'Administrators', 1), (8, '', -1),
                           (5, 'Everyone', 2)):
        n = lsat.LSAPR_TRANSLATED_NAME_EX()
        n['Use'] = use
        n['Name'] = name
        n['DomainIndex'] = idx
        n['Flags'] = 0
        tn['Names'].append(n)
    r['MappedCount'] = 3
    r['ErrorCode'] = 0x107
    return stub(r)


NAMES = ('RPCSRV\\alice', 'Administrators', 'nobody-here')


def names_array(arr):
    for n in NAMES:
        u = lsat.RPC_UNICODE_STRING()
        u['Data'] = n
        arr.append(u)


@case
def lsa_LookupNames3_req():
    r = lsat.LsarLookupNames3()
    r['PolicyHandle'] = handle(1)
    r['Count'] = len(NAMES)
    names_array(r['Names'])
    r['TranslatedSids']['Sids'] = NULL
    r['LookupLevel'] = 1
    r['MappedCount'] = 0
    r['LookupOptions'] = 0
    r['ClientRevision'] = 2
    return stub(r)


@case
def lsa_LookupNames2_req():
    r = lsat.LsarLookupNames2()
    r['PolicyHandle'] = handle(1)
    r['Count'] = len(NAMES)
    names_array(r['Names'])
    r['TranslatedSids']['Sids'] = NULL
    r['LookupLevel'] = 1
    r['MappedCount'] = 0
    r['LookupOptions'] = 0
    r['ClientRevision'] = 1
    return stub(r)


@case
def lsa_LookupNames3_rep():
    r = lsat.LsarLookupNames3Response()
    ref_domains(r['ReferencedDomains'], [('RPCSRV', 'S-1-5-21-1-2-3'), ('BUILTIN', 'S-1-5-32')])
    ts = r['TranslatedSids']
    ts['Entries'] = 3
    for use, s, idx in ((1, 'S-1-5-21-1-2-3-1000', 0), (4, 'S-1-5-32-544', 1), (8, None, -1)):
        e = lsat.LSAPR_TRANSLATED_SID_EX2()
        e['Use'] = use
        if s:
            e['Sid'] = sid(s)
        else:
            e['Sid'] = NULL
        e['DomainIndex'] = idx
        e['Flags'] = 0
        ts['Sids'].append(e)
    r['MappedCount'] = 2
    r['ErrorCode'] = 0x107
    return stub(r)


@case
def lsa_LookupNames2_rep():
    r = lsat.LsarLookupNames2Response()
    ref_domains(r['ReferencedDomains'], [('RPCSRV', 'S-1-5-21-1-2-3')])
    ts = r['TranslatedSids']
    ts['Entries'] = 2
    for use, rid, idx in ((1, 1000, 0), (2, 513, 0)):
        e = lsat.LSAPR_TRANSLATED_SID_EX()
        e['Use'] = use
        e['RelativeId'] = rid
        e['DomainIndex'] = idx
        e['Flags'] = 0
        ts['Sids'].append(e)
    r['MappedCount'] = 2
    r['ErrorCode'] = 0
    return stub(r)


# ------------------------------------------------------------------ svcctl
@case
def svc_OpenSCManagerW_req():
    r = scmr.ROpenSCManagerW()
    r['lpMachineName'] = 'DUMMY\x00'
    r['lpDatabaseName'] = 'ServicesActive\x00'
    r['dwDesiredAccess'] = 0x0001 | 0x0004
    return stub(r)


@case
def svc_OpenSCManagerW_rep():
    r = scmr.ROpenSCManagerWResponse()
    r['lpScHandle'] = handle(2)
    r['ErrorCode'] = 0
    return stub(r)


@case
def svc_EnumServicesStatusW_req():
    r = scmr.REnumServicesStatusW()
    r['hSCManager'] = handle(2)
    r['dwServiceType'] = 0x30
    r['dwServiceState'] = 3
    r['cbBufSize'] = 4096
    r['lpResumeIndex'] = 0
    return stub(r)


def enum_buffer(entries):
    # ENUM_SERVICE_STATUSW records (36 bytes) then the strings, offsets from the start
    n = len(entries)
    head, tail = b'', b''
    base = 36 * n
    for name, disp, st in entries:
        off_n = base + len(tail)
        tail += (name + '\x00').encode('utf-16-le')
        off_d = base + len(tail)
        tail += (disp + '\x00').encode('utf-16-le')
        head += struct.pack('<II', off_n, off_d) + struct.pack('<7I', *st)
    return head + tail


ENUM_ENTRIES = [
    ('Spooler', 'Print Spooler', (0x10, 4, 5, 0, 0, 0, 0)),
    ('WinRM', 'Windows Remote Management (WS-Management)', (0x20, 1, 0, 1077, 0, 0, 0)),
    ('Dnscache', 'DNS Client \u00e9\u4e2d', (0x20, 4, 0x81, 0, 0, 0, 0)),
]


@case
def svc_EnumServicesStatusW_rep():
    r = scmr.REnumServicesStatusWResponse()
    buf = enum_buffer(ENUM_ENTRIES)
    r['lpBuffer'] = list(buf)
    r['pcbBytesNeeded'] = 0
    r['lpServicesReturned'] = len(ENUM_ENTRIES)
    r['lpResumeIndex'] = NULL
    r['ErrorCode'] = 0
    return stub(r)


@case
def svc_EnumServicesStatusW_rep_more():
    r = scmr.REnumServicesStatusWResponse()
    buf = enum_buffer(ENUM_ENTRIES[:1])
    r['lpBuffer'] = list(buf + b'\x00' * 8)
    r['pcbBytesNeeded'] = 400
    r['lpServicesReturned'] = 1
    r['lpResumeIndex'] = 1
    r['ErrorCode'] = 234
    return stub(r)


@case
def svc_OpenServiceW_req():
    r = scmr.ROpenServiceW()
    r['hSCManager'] = handle(2)
    r['lpServiceName'] = 'Spooler\x00'
    r['dwDesiredAccess'] = 0x0004 | 0x0001 | 0x0010 | 0x0020
    return stub(r)


@case
def svc_QueryServiceStatus_req():
    r = scmr.RQueryServiceStatus()
    r['hService'] = handle(3)
    return stub(r)


@case
def svc_QueryServiceStatus_rep():
    r = scmr.RQueryServiceStatusResponse()
    s = r['lpServiceStatus']
    s['dwServiceType'] = 0x10
    s['dwCurrentState'] = 4
    s['dwControlsAccepted'] = 5
    s['dwWin32ExitCode'] = 0
    s['dwServiceSpecificExitCode'] = 0
    s['dwCheckPoint'] = 0
    s['dwWaitHint'] = 0
    r['ErrorCode'] = 0
    return stub(r)


@case
def svc_QueryServiceConfigW_req():
    r = scmr.RQueryServiceConfigW()
    r['hService'] = handle(3)
    r['cbBufSize'] = 8192
    return stub(r)


@case
def svc_QueryServiceConfigW_rep():
    r = scmr.RQueryServiceConfigWResponse()
    c = r['lpServiceConfig']
    c['dwServiceType'] = 0x10
    c['dwStartType'] = 2
    c['dwErrorControl'] = 1
    c['lpBinaryPathName'] = 'C:\\Windows\\System32\\spoolsv.exe\x00'
    c['lpLoadOrderGroup'] = 'SpoolerGroup\x00'
    c['dwTagId'] = 0
    c['lpDependencies'] = 'RPCSS/http\x00'
    c['lpServiceStartName'] = 'LocalSystem\x00'
    c['lpDisplayName'] = 'Print Spooler\x00'
    r['pcbBytesNeeded'] = 250
    r['ErrorCode'] = 0
    return stub(r)


@case
def svc_StartServiceW_req():
    r = scmr.RStartServiceW()
    r['hService'] = handle(3)
    r['argc'] = 2
    args = []
    for a in ('--verbose\x00', 'x\x00'):
        p = scmr.LPWSTR()
        p['Data'] = a
        args.append(p)
    r['argv'] = args
    return stub(r)


@case
def svc_StartServiceW_req_noargs():
    r = scmr.RStartServiceW()
    r['hService'] = handle(3)
    r['argc'] = 0
    r['argv'] = NULL
    return stub(r)


@case
def svc_ControlService_req():
    r = scmr.RControlService()
    r['hService'] = handle(3)
    r['dwControl'] = 1
    return stub(r)


@case
def svc_CloseServiceHandle_req():
    r = scmr.RCloseServiceHandle()
    r['hSCObject'] = handle(3)
    return stub(r)


# ------------------------------------------------------------------ winreg
def hive_req(cls):
    r = cls()
    r['ServerName'] = NULL
    r['samDesired'] = 0x02000000
    return stub(r)


@case
def reg_OpenLocalMachine_req():
    return hive_req(rrp.OpenLocalMachine)


@case
def reg_OpenUsers_req():
    return hive_req(rrp.OpenUsers)


@case
def reg_OpenCurrentUser_req():
    return hive_req(rrp.OpenCurrentUser)


@case
def reg_OpenClassesRoot_req():
    return hive_req(rrp.OpenClassesRoot)


@case
def reg_OpenLocalMachine_rep():
    r = rrp.OpenLocalMachineResponse()
    set_handle(r, 'phKey', 4)
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegOpenKey_req():
    r = rrp.BaseRegOpenKey()
    set_handle(r, 'hKey', 4)
    r['lpSubKey'] = 'SOFTWARE\\Samba\x00'
    r['dwOptions'] = 0
    r['samDesired'] = 0x00020019
    return stub(r)


@case
def reg_BaseRegEnumKey_req():
    r = rrp.BaseRegEnumKey()
    set_handle(r, 'hKey', 5)
    r['dwIndex'] = 2
    r.fields['lpNameIn'].fields['MaximumLength'] = 512
    r.fields['lpNameIn'].fields['Data'].fields['Data'].fields['MaximumCount'] = 256
    r['lpClassIn'] = ' \x00'
    set_filetime(r, 0)
    return stub(r)


@case
def reg_BaseRegEnumKey_rep():
    r = rrp.BaseRegEnumKeyResponse()
    r['lpNameOut'] = 'Samba\x00'
    r.fields['lpNameOut'].fields['MaximumLength'] = 512
    r.fields['lpNameOut'].fields['Data'].fields['Data'].fields['MaximumCount'] = 256
    r['lplpClassOut'] = NULL
    set_filetime(r, 0x01d9c1f0a0b0c0d0)
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegEnumValue_req():
    r = rrp.BaseRegEnumValue()
    set_handle(r, 'hKey', 5)
    r['dwIndex'] = 0
    r.fields['lpValueNameIn'].fields['MaximumLength'] = 256
    r.fields['lpValueNameIn'].fields['Data'].fields['Data'].fields['MaximumCount'] = 128
    r['lpType'] = 0
    r['lpData'] = b''
    r.fields['lpData'].fields['Data'].fields['MaximumCount'] = 1024
    r['lpcbData'] = 1024
    r['lpcbLen'] = 0
    return stub(r)


@case
def reg_BaseRegEnumValue_rep():
    r = rrp.BaseRegEnumValueResponse()
    r['lpValueNameOut'] = 'Version\x00'
    r.fields['lpValueNameOut'].fields['MaximumLength'] = 256
    r.fields['lpValueNameOut'].fields['Data'].fields['Data'].fields['MaximumCount'] = 128
    r['lpType'] = 1
    data = '4.17.12\x00'.encode('utf-16-le')
    r['lpData'] = list(data)
    r.fields['lpData'].fields['Data'].fields['MaximumCount'] = 1024
    r['lpcbData'] = len(data)
    r['lpcbLen'] = len(data)
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegQueryValue_req():
    r = rrp.BaseRegQueryValue()
    set_handle(r, 'hKey', 5)
    r['lpValueName'] = 'Version\x00'
    r['lpType'] = 0
    r['lpData'] = b''
    r.fields['lpData'].fields['Data'].fields['MaximumCount'] = 512
    r['lpcbData'] = 512
    r['lpcbLen'] = 0
    return stub(r)


MULTI = ['first', 'second \u00e9', 'C:\\third']
MULTI_BYTES = b''.join((s + '\x00').encode('utf-16-le') for s in MULTI) + b'\x00\x00'


@case
def reg_BaseRegQueryValue_rep_multi():
    r = rrp.BaseRegQueryValueResponse()
    r['lpType'] = 7
    r['lpData'] = list(MULTI_BYTES)
    r.fields['lpData'].fields['Data'].fields['MaximumCount'] = 512
    r['lpcbData'] = len(MULTI_BYTES)
    r['lpcbLen'] = len(MULTI_BYTES)
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegQueryValue_rep_more():
    r = rrp.BaseRegQueryValueResponse()
    r['lpType'] = 3
    r['lpData'] = NULL
    r['lpcbData'] = 5000
    r['lpcbLen'] = 0
    r['ErrorCode'] = 234
    return stub(r)


@case
def reg_BaseRegQueryInfoKey_req():
    r = rrp.BaseRegQueryInfoKey()
    set_handle(r, 'hKey', 5)
    r['lpClassIn'] = NULL
    return stub(r)


@case
def reg_BaseRegQueryInfoKey_rep():
    r = rrp.BaseRegQueryInfoKeyResponse()
    r['lpClassOut'] = NULL
    r['lpcSubKeys'] = 3
    r['lpcbMaxSubKeyLen'] = 16
    r['lpcbMaxClassLen'] = 0
    r['lpcValues'] = 2
    r['lpcbMaxValueNameLen'] = 14
    r['lpcbMaxValueLen'] = 64
    r['lpcbSecurityDescriptor'] = 120
    set_filetime(r, 133000000000000000)
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegSetValue_req_multi():
    r = rrp.BaseRegSetValue()
    set_handle(r, 'hKey', 6)
    r['lpValueName'] = 'Paths\x00'
    r['dwType'] = 7
    r['lpData'] = list(MULTI_BYTES)
    r['cbData'] = len(MULTI_BYTES)
    return stub(r)


@case
def reg_BaseRegSetValue_req_dword():
    r = rrp.BaseRegSetValue()
    set_handle(r, 'hKey', 6)
    r['lpValueName'] = 'Count\x00'
    r['dwType'] = 4
    r['lpData'] = list(struct.pack('<I', 0xdeadbeef))
    r['cbData'] = 4
    return stub(r)


@case
def reg_BaseRegCreateKey_req():
    r = rrp.BaseRegCreateKey()
    set_handle(r, 'hKey', 5)
    r['lpSubKey'] = 'LuaDcerpc\\Test\x00'
    r['lpClass'] = NULL
    r['dwOptions'] = 0
    r['samDesired'] = 0x000F003F
    r['lpSecurityAttributes'] = NULL
    r['lpdwDisposition'] = 0
    return stub(r)


@case
def reg_BaseRegCreateKey_rep():
    r = rrp.BaseRegCreateKeyResponse()
    set_handle(r, 'phkResult', 6)
    r['lpdwDisposition'] = 1
    r['ErrorCode'] = 0
    return stub(r)


@case
def reg_BaseRegDeleteValue_req():
    r = rrp.BaseRegDeleteValue()
    set_handle(r, 'hKey', 6)
    r['lpValueName'] = 'Paths\x00'
    return stub(r)


@case
def reg_BaseRegDeleteKey_req():
    r = rrp.BaseRegDeleteKey()
    set_handle(r, 'hKey', 5)
    r['lpSubKey'] = 'LuaDcerpc\\Test\x00'
    return stub(r)


@case
def reg_BaseRegCloseKey_req():
    r = rrp.BaseRegCloseKey()
    set_handle(r, 'hKey', 6)
    return stub(r)


def live(port, user, password, domain, path):
    # what Impacket sees over ncacn_ip_tcp (NTLM, packet integrity): the subkeys
    # of HKLM\\path and its values, one per line: "key NAME", "value NAME TYPE HEX"
    from impacket.dcerpc.v5 import transport
    from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_PKT_INTEGRITY
    t = transport.DCERPCTransportFactory('ncacn_ip_tcp:127.0.0.1[%s]' % port)
    t.set_credentials(user, password, domain)
    dce = t.get_dce_rpc()
    dce.set_auth_level(RPC_C_AUTHN_LEVEL_PKT_INTEGRITY)
    dce.connect()
    dce.bind(rrp.MSRPC_UUID_RRP)
    hklm = rrp.hOpenLocalMachine(dce)['phKey']
    key = rrp.hBaseRegOpenKey(dce, hklm, path)['phkResult']
    i = 0
    while True:
        try:
            r = rrp.hBaseRegEnumKey(dce, key, i)
        except rrp.DCERPCSessionError:
            break
        print('key', r['lpNameOut'][:-1])
        i += 1
    i = 0
    while True:
        try:
            r = rrp.hBaseRegEnumValue(dce, key, i)
        except rrp.DCERPCSessionError:
            break
        print('value', r['lpValueNameOut'][:-1], r['lpType'], b''.join(r['lpData']).hex() or '-')
        i += 1
    dce.disconnect()


def main():
    if sys.argv[1:2] == ['live']:
        return live(*sys.argv[2:7])
    want = set(sys.argv[1:])
    for fn in CASES:
        if want and fn.__name__ not in want:
            continue
        try:
            print(fn.__name__, fn())
        except Exception as e:  # one broken case must not hide the others
            print(fn.__name__, 'ERROR', repr(e).replace('\n', ' '))


if __name__ == '__main__':
    main()
