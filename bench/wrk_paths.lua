-- wrk script of the benchmark: cycles through the request paths listed in a file (one a line,
-- given after `--`), each thread starting at a different place, and prints one JSON line of
-- results at the end (latencies in microseconds).
--
-- wrk counts answers of 400 and above as errors. With "redirects" after the file, redirects
-- (a session that does not log in is sent to the login page) are counted too, in
-- errors_redirect: that needs wrk to hand each response to Lua, which the other runs are spared.
local paths = {}
local index = 0
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  index = math.random(#paths)
  if args[2] == "redirects" then
    redirects = 0
    function response(status, headers, body)
      if status >= 300 and status < 400 then redirects = redirects + 1 end
    end
  end
end

function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  local redirected = 0
  for _, thread in ipairs(threads) do
    redirected = redirected + (thread:get("redirects") or 0)
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "errors_redirect": %d, "p50_us": %d, ' ..
    '"p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, redirected,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
