-- Drives one read route. Arguments: a file of request targets, one per
-- line (path and query, the token last). Every request picks a random
-- target; every answer must be HTTP 200 with "status_code":0, anything
-- else counts as an error. done() prints one BENCH line for the harness.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  ok, bad = 0, 0
  reqs = {}
  for line in io.lines(args[1]) do
    if line ~= "" then
      reqs[#reqs + 1] = wrk.format("GET", line)
    end
  end
  n = #reqs
  math.randomseed(os.time() * 100 + tid)
end

function request()
  return reqs[math.random(n)]
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"status_code":0', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local good, wrong = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d ok=%d bad=%d sock=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, good, wrong, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
