-- wrk script: rotate through prepared requests, one per line of a TSV file
-- (method <TAB> path <TAB> access token <TAB> JSON body). Usage:
--   wrk -t1 -c10 -d10s -s rotate.lua http://127.0.0.1:8781 -- requests.tsv
-- Each wrk thread takes every n-th line (disjoint slices), so write workloads never repeat a
-- line while the file lasts. done() prints one JSON line prefixed with BENCH_JSON.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 1
statuses = {}
wrapped = 0

function init(args)
  local nthreads = tonumber(args[2] or "1")
  local index = 0
  for line in io.lines(args[1]) do
    if index % nthreads == id then
      local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
      local headers = { ["Accept"] = "application/json", ["Host"] = "127.0.0.1" }
      if token ~= nil and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
      end
      if body ~= nil and body ~= "" then
        headers["Content-Type"] = "application/json"
      else
        body = nil
      end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    index = index + 1
  end
end

function request()
  local r = requests[position]
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return r
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests_)
  local counts = {}
  local wraps = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[code] = (counts[code] or 0) + n
    end
    wraps = wraps + thread:get("wrapped")
  end
  local parts = {}
  for code, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "wrapped": %d, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"status_errors": %d, "statuses": {%s}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, wraps,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ", "),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
