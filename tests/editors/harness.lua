-- A tiny test runner for headless Neovim: the test body runs in a coroutine that yields while
-- Neovim's main loop runs (so typed keys, timers and LSP messages are processed as for a user);
-- every wait has a deadline, and the whole run has one too. Exit status: 0 pass, 1 fail.
local H = {}

local co
local failed = false

local function log(msg)
  io.stderr:write(msg .. '\n')
end
H.log = log

local function finish(ok, msg)
  if msg then log(msg) end
  vim.schedule(function()
    if ok and not failed then
      log('PASS')
      vim.cmd('qall!')
    else
      log('FAIL')
      vim.cmd('cquit 1')
    end
  end)
end

local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    failed = true
    finish(false, debug.traceback(co, tostring(err)))
  elseif coroutine.status(co) == 'dead' then
    finish(true)
  end
end

-- Ends the run as skipped (ctest's SKIP_RETURN_CODE 77), e.g. when the reference kit is absent.
function H.skip(reason)
  log('SKIP: ' .. reason)
  vim.schedule(function() vim.cmd('cquit 77') end)
  coroutine.yield() -- never resumed
end

-- Runs the loop for `ms` milliseconds, then continues the test.
function H.sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

-- Waits until pred() is true (checked every 10 ms), failing with `what` after `ms`.
function H.wait_for(pred, what, ms)
  local deadline = (vim.uv or vim.loop).now() + (ms or 20000)
  while true do
    local ok, v = pcall(pred)
    if ok and v then return v end
    if (vim.uv or vim.loop).now() > deadline then
      error(('timed out after %d ms waiting for %s'):format(ms or 20000, what), 2)
    end
    H.sleep(10)
  end
end

-- Types keys as a user would (mappings apply), then lets the loop process them.
function H.type(keys)
  vim.api.nvim_input(keys)
  H.sleep(5)
end

function H.eq(want, got, what)
  if not vim.deep_equal(want, got) then
    error(('%s: expected %s, got %s'):format(what or 'value', vim.inspect(want), vim.inspect(got)), 2)
  end
end

function H.ok(v, what)
  if not v then error((what or 'assertion') .. ' failed', 2) end
end

function H.env(name)
  local v = os.getenv(name)
  if not v or v == '' then error('environment variable ' .. name .. ' is not set', 2) end
  return v
end

-- Runs body(H) as the test, with an overall deadline.
function H.run(body, total_ms)
  co = coroutine.create(function()
    body(H)
  end)
  local guard = (vim.uv or vim.loop).new_timer()
  guard:start(total_ms or 120000, 0, vim.schedule_wrap(function()
    failed = true
    finish(false, 'test timed out after ' .. (total_ms or 120000) .. ' ms')
  end))
  vim.schedule(resume)
end

return H
