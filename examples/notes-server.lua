#!/usr/bin/env lua5.4
-- notes-server.lua [BINDING...]: a server prototyped from an .idl file alone.
--
-- examples/notes.idl describes the interface; this script loads it with
-- dcerpc.idl.load and gives a Lua function per procedure. Notebooks live in
-- memory; a context handle names one notebook.
--   lua5.4 examples/notes-server.lua 'ncacn_ip_tcp:127.0.0.1[31140]'
--   dcerpc call 'ncacn_ip_tcp:127.0.0.1[31140]' examples/notes.idl OpenNotebook Name=work
-- Prints "listening on <binding>" for each endpoint.
if not package.searchpath("dcerpc.core", package.cpath) then
  local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
  package.path = dir .. "/../scripts/?.lua;" .. dir .. "/../scripts/?/init.lua;" .. package.path
  package.cpath = dir .. "/../build/?.so;" .. package.cpath
end

local dcerpc = require "dcerpc"

local here = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
local notes = assert(dcerpc.idl.load(here .. "/notes.idl"))
local C = notes.constants                      -- KindText, KindTodo, MAX_NOTES from the IDL

local STATUS_INVALID_HANDLE = 0xC0000008
local STATUS_NOT_FOUND = 0xC0000225
local STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
local NULL_HANDLE = string.rep("\0", 20)

local notebooks = {}                           -- name -> { notes = { [id] = note }, next_id }
local handles, serial = {}, 0                  -- 20-byte handle -> notebook

local function book(h) return handles[h] end

local srv = assert(dcerpc.server { listen = #arg > 0 and { ... } or { "ncacn_ip_tcp:127.0.0.1[31140]" } })
srv:register(notes, {
  OpenNotebook = function(call, a)
    local nb = notebooks[a.Name]
    if not nb then nb = { notes = {}, next_id = 1, count = 0 }; notebooks[a.Name] = nb end
    serial = serial + 1
    local h = string.pack("<I4I4I4I8", 0, serial, call.assoc_group or 0, os.time())
    handles[h] = nb
    return { Notebook = h, result = 0 }
  end,
  AddNote = function(call, a)
    local nb = book(a.Notebook)
    if not nb then return { Id = 0, result = STATUS_INVALID_HANDLE } end
    if nb.count >= C.MAX_NOTES then return { Id = 0, result = STATUS_INSUFFICIENT_RESOURCES } end
    local n = a.Note
    n.Id = nb.next_id
    nb.notes[n.Id], nb.next_id, nb.count = n, nb.next_id + 1, nb.count + 1
    return { Id = n.Id, result = 0 }
  end,
  ListNotes = function(call, a)
    local nb = book(a.Notebook)
    if not nb then return { List = { Count = 0 }, result = STATUS_INVALID_HANDLE } end
    local list = {}
    for id = 1, nb.next_id - 1 do
      local n = nb.notes[id]
      if n and (a.Kind == 0 or n.Kind == a.Kind) then list[#list + 1] = n end
    end
    return { List = { Count = #list, Notes = list }, result = 0 }
  end,
  DeleteNote = function(call, a)
    local nb = book(a.Notebook)
    if not nb then return { result = STATUS_INVALID_HANDLE } end
    if not nb.notes[a.Id] then return { result = STATUS_NOT_FOUND } end
    nb.notes[a.Id], nb.count = nil, nb.count - 1
    return { result = 0 }
  end,
  CloseNotebook = function(call, a)
    handles[a.Notebook] = nil
    return { Notebook = NULL_HANDLE }
  end,
})

for _, ep in ipairs(srv.endpoints) do print("listening on " .. ep) end
io.stdout:flush()
srv:run()
