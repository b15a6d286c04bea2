-- wrk script: GET the paths listed in $PATHS_FILE in rotation (each thread starts at its own offset),
-- and print one machine-readable RESULT line at the end.
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do
  if #line > 0 then paths[#paths + 1] = line end
end
local i = 0
local threadCount = 0

setup = function(thread)
  thread:set("offset", threadCount * 997)
  threadCount = threadCount + 1
end

init = function(args)
  i = tonumber(offset) or 0
end

request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(99)))
end
