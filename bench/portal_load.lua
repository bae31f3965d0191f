-- Paced requests for wrk (bench/portal_load.py): wrk itself is closed-loop; this script makes each thread
-- follow a fixed schedule of LOAD_RATE / LOAD_THREADS requests a second (the next slot is claimed before each
-- request, whichever connection is free; a slot already past is sent at once, so a slow answer does not lower
-- the rate while a connection is free). The paths come from the file LOAD_PATHS (one a line), taken in turn from
-- a random start; LOAD_COOKIES, when set, names a file of Cookie headers (one a line: one signed-in unit each),
-- taken in turn with the paths, so the requests are spread over many units' sessions.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } load_timespec;
  int clock_gettime(int clk_id, load_timespec *tp);
]]
local ts = ffi.new("load_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local rate = tonumber(os.getenv("LOAD_RATE") or "200")
  local nthreads = tonumber(os.getenv("LOAD_THREADS") or "2")
  interval = 1000 / (rate / nthreads)
  next_at = nil
  late = 0
  paths = {}
  for line in io.lines(os.getenv("LOAD_PATHS")) do
    if #line > 0 then table.insert(paths, line) end
  end
  math.randomseed(id * 7919 + 17)
  i = math.random(#paths)
  cookies = {}
  local listing = os.getenv("LOAD_COOKIES") or ""
  if #listing > 0 then
    for line in io.lines(listing) do
      if #line > 0 then table.insert(cookies, line) end
    end
  end
  c = math.random(math.max(1, #cookies))
  headers = {}
  headers["Accept-Language"] = "zh-hans"
end

function delay()
  local t = now_ms()
  if next_at == nil then next_at = t end
  local slot = next_at
  next_at = next_at + interval
  if slot < t then
    late = late + 1
    return 0
  end
  return slot - t
end

function request()
  i = i % #paths + 1
  if #cookies > 0 then
    c = c % #cookies + 1
    headers["Cookie"] = cookies[c]
  end
  return wrk.format("GET", paths[i], headers)
end

function done(summary, latency, requests)
  local behind = 0
  for _, thread in ipairs(threads) do behind = behind + (thread:get("late") or 0) end
  io.write(string.format(
    'LOADJSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d, "late_slots": %d, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, ' ..
    '"p999_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, behind, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
