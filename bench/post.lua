-- wrk script: POSTs the JSON bodies named in $BODIES (colon-separated files), in turn, and
-- prints one JSON line of results for bench/throughput.py.
local bodies = {}
for path in string.gmatch(os.getenv("BODIES"), "[^:]+") do
  local f = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^:]+") do paths[#paths + 1] = p end
local i = 0

request = function()
  i = i % #bodies + 1
  return wrk.format("POST", paths[i], {["Content-Type"] = "application/json"}, bodies[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
