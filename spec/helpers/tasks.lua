-- spec/helpers/tasks.lua: a test body run as a task on a server's event loop,
-- so that its client calls and the server's handlers share one loop.
--
--   local with_task = require("helpers.tasks").with_task
--   with_task(srv, function(endpoint) ... end [, seconds])
--
-- fn gets the server's first endpoint. The server is closed when fn returns
-- or raises (its error is raised again here), or after `seconds` (default 30)
-- with "task did not finish".
local M = {}

function M.with_task(srv, fn, seconds)
  local dcerpc = require "dcerpc"
  local done, err
  srv:spawn(function()
    local ok, e = pcall(fn, srv.endpoints[1])
    done, err = true, not ok and e or nil
    srv:close()
  end)
  srv:spawn(function()
    dcerpc.sleep(seconds or 30)
    if not done then err = "task did not finish"; srv:close() end
  end)
  srv:run()
  if err then error(err, 0) end
end

return M
