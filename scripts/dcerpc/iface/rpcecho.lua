-- rpcecho: Samba's test interface (60a15ec5-4de8-11d7-a637-005056a20182 v1.0),
-- pointer_default(unique). Small, but it exercises most of NDR: conformant
-- arrays, [string] through ref->unique pointers, non-encapsulated unions with
-- 8-aligned arms, enums of both widths, a conformant struct and a chain of
-- unique pointers. smbtorture's rpc.echo drives servers of this interface.
local ndr = require "dcerpc.ndr"

local echo_info1 = ndr.struct "echo_info1" { { "v", ndr.uint8 } }
local echo_info2 = ndr.struct "echo_info2" { { "v", ndr.uint16 } }
local echo_info3 = ndr.struct "echo_info3" { { "v", ndr.uint32 } }
local echo_info4 = ndr.struct "echo_info4" { { "v", ndr.hyper } }
local echo_info5 = ndr.struct "echo_info5" { { "v1", ndr.uint8 }, { "v2", ndr.hyper } }
local echo_info6 = ndr.struct "echo_info6" { { "v1", ndr.uint8 }, { "info1", echo_info1 } }
local echo_info7 = ndr.struct "echo_info7" { { "v1", ndr.uint8 }, { "info4", echo_info4 } }

local echo_Info = ndr.union "echo_Info" {
  switch_type = ndr.uint16,
  [1] = { "info1", echo_info1 },
  [2] = { "info2", echo_info2 },
  [3] = { "info3", echo_info3 },
  [4] = { "info4", echo_info4 },
  [5] = { "info5", echo_info5 },
  [6] = { "info6", echo_info6 },
  [7] = { "info7", echo_info7 },
}

local ENUM1 = { ECHO_ENUM1 = 1, ECHO_ENUM2 = 2 }
local echo_Enum1 = ndr.enum16(ENUM1)
local echo_Enum1_32 = ndr.v1_enum { ECHO_ENUM1_32 = 1, ECHO_ENUM2_32 = 2 }
local echo_Enum2 = ndr.struct "echo_Enum2" { { "e1", echo_Enum1 }, { "e2", echo_Enum1_32 } }
local echo_Enum3 = ndr.union "echo_Enum3" {
  switch_type = ndr.uint16,
  [1] = { "e1", echo_Enum1 },
  [2] = { "e2", echo_Enum2 },
}

local echo_Surrounding = ndr.struct "echo_Surrounding" {
  { "x", ndr.uint32 },
  { "surrounding", ndr.array(ndr.uint16, { size_is = "x" }) },
}

return ndr.interface {
  name = "rpcecho",
  uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0",
  types = {
    echo_info1 = echo_info1, echo_info2 = echo_info2, echo_info3 = echo_info3,
    echo_info4 = echo_info4, echo_info5 = echo_info5, echo_info6 = echo_info6,
    echo_info7 = echo_info7, echo_Info = echo_Info, echo_Enum1 = echo_Enum1,
    echo_Enum1_32 = echo_Enum1_32, echo_Enum2 = echo_Enum2, echo_Enum3 = echo_Enum3,
    echo_Surrounding = echo_Surrounding,
  },
  constants = ENUM1,

  ndr.func(0, "AddOne") {
    { "in_data", ndr.uint32, "in" },
    { "out_data", ndr.ref(ndr.uint32), "out" },
  },
  ndr.func(1, "EchoData") {
    { "len", ndr.uint32, "in" },
    { "in_data", ndr.array(ndr.uint8, { size_is = "len" }), "in" },
    { "out_data", ndr.array(ndr.uint8, { size_is = "len" }), "out" },
  },
  ndr.func(2, "SinkData") {
    { "len", ndr.uint32, "in" },
    { "data", ndr.array(ndr.uint8, { size_is = "len" }), "in" },
  },
  ndr.func(3, "SourceData") {
    { "len", ndr.uint32, "in" },
    { "data", ndr.array(ndr.uint8, { size_is = "len" }), "out" },
  },
  ndr.func(4, "TestCall") {
    { "s1", ndr.ref(ndr.wstring), "in" },
    { "s2", ndr.ref(ndr.unique(ndr.wstring)), "out" },
  },
  ndr.func(5, "TestCall2") {
    { "level", ndr.uint16, "in" },
    { "info", ndr.ref(echo_Info), "out", switch_is = "level" },
    returns = ndr.NTSTATUS,
  },
  ndr.func(6, "TestSleep") {
    { "seconds", ndr.uint32, "in" },
    returns = ndr.uint32,
  },
  ndr.func(7, "TestEnum") {
    { "foo1", ndr.ref(echo_Enum1), "in,out" },
    { "foo2", ndr.ref(echo_Enum2), "in,out" },
    { "foo3", ndr.ref(echo_Enum3), "in,out", switch_is = "*foo1" },
  },
  ndr.func(8, "TestSurrounding") {
    { "data", ndr.ref(echo_Surrounding), "in,out" },
  },
  ndr.func(9, "TestDoublePointer") {
    { "data", ndr.ref(ndr.unique(ndr.unique(ndr.uint16))), "in" },
    returns = ndr.uint16,
  },
}
