-- Drives a write route so that every request is a real change: each pair
-- (a user and a video to like, or a user to follow) starts in the state the
-- database holds, and each request asks for the opposite of the pair's
-- last requested state. The pairs of one user all belong to one wrk thread,
-- which cycles through hundreds of them, so no two requests on one pair
-- are ever in flight together.
-- Arguments: pairs file ("state token target" per line), the target's
-- parameter name, the route path, the number of wrk threads, and the file
-- done() writes the last requested state of every pair to.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  ok, bad = 0, 0
  local file, param, path, nthreads = args[1], args[2], args[3], tonumber(args[4])
  outfile = args[5]
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  local users, nusers = {}, 0
  pairs_on, pairs_off, keys, on = {}, {}, {}, {}
  for line in io.lines(file) do
    local state, token, target = line:match("^(%d) (%S+) (%d+)$")
    if state then
      if not users[token] then
        users[token] = nusers
        nusers = nusers + 1
      end
      if users[token] % nthreads == tid - 1 then
        local body = "token=" .. token .. "&" .. param .. "=" .. target .. "&action_type="
        local i = #keys + 1
        keys[i] = token .. " " .. target
        on[i] = state == "1"
        pairs_on[i] = wrk.format("POST", path, headers, body .. "1")
        pairs_off[i] = wrk.format("POST", path, headers, body .. "2")
      end
    end
  end
  n = #keys
  -- A shuffled cycle spreads each moment's writes over many users and
  -- videos, as real traffic would.
  math.randomseed(os.time() * 100 + tid)
  order = {}
  for i = 1, n do order[i] = i end
  for i = n, 2, -1 do
    local j = math.random(i)
    order[i], order[j] = order[j], order[i]
  end
  cursor = 1
  -- wrk calls request() once on the first thread to inspect it before
  -- the run; that request is never sent, so it must not flip a pair.
  inspecting = tid == 1
end

function request()
  local i = order[cursor]
  if inspecting then
    inspecting = false
    return pairs_on[i]
  end
  cursor = cursor % n + 1
  if on[i] then
    on[i] = false
    return pairs_off[i]
  end
  on[i] = true
  return pairs_on[i]
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
  local f = nil
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
    f = f or io.open(t:get("outfile"), "w")
    local k, s = t:get("keys"), t:get("on")
    for i = 1, #k do
      f:write((s[i] and "1" or "0") .. " " .. k[i] .. "\n")
    end
  end
  if f then f:close() end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d ok=%d bad=%d sock=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, good, wrong, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
