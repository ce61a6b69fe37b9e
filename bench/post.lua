-- wrk script: POSTs the JSON bodies named in $BODIES (colon-separated files; a `.jsonl` file
-- holds one body per line), each to its path in $PATHS, in turn, and prints one JSON line of
-- results for bench/throughput.py.
local files, routes = {}, {}
for path in string.gmatch(os.getenv("BODIES"), "[^:]+") do files[#files + 1] = path end
for p in string.gmatch(os.getenv("PATHS"), "[^:]+") do routes[#routes + 1] = p end
local bodies, paths = {}, {}
for k, path in ipairs(files) do
  local f = assert(io.open(path, "rb"))
  if string.sub(path, -6) == ".jsonl" then
    for line in f:lines() do
      bodies[#bodies + 1] = line
      paths[#paths + 1] = routes[k]
    end
  else
    bodies[#bodies + 1] = f:read("*a")
    paths[#paths + 1] = routes[k]
  end
  f:close()
end
-- $TOKENS (optional): a file of bearer tokens, one per line, each sent once, in turn.
local tokens = {}
if os.getenv("TOKENS") then
  for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
end
local i, t = 0, 0

request = function()
  i = i % #bodies + 1
  local headers = {["Content-Type"] = "application/json"}
  if #tokens > 0 then
    t = t % #tokens + 1
    headers["Authorization"] = "Bearer " .. tokens[t]
  end
  return wrk.format("POST", paths[i], headers, bodies[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
