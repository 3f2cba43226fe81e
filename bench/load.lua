-- wrk script for bench/run.py: authenticated POST /map or GET /heartbeat, closed loop.
--
-- Environment (set by bench/run.py):
--   BENCH_MODE        "map" or "heartbeat"
--   BENCH_USERS_FILE  lines of "<user id> <token>"
--   BENCH_PRACTICES   number of practices, ids bench-practice-1..N
--   BENCH_START_US    microseconds since the epoch when the run starts
--
-- Map writes walk every (user, practice) pair; each thread owns a disjoint share of the
-- users and a strictly increasing clock, so every write is newer than the last one for its
-- row and the service really updates (`applied: true`). Answers that are not 200, or that
-- say `applied: false`, are counted and reported by done().

local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

local mode, users, practice_count, start_us
local counter, not_ok, not_applied = 0, 0, 0

function init(args)
  mode = os.getenv("BENCH_MODE") or "heartbeat"
  start_us = tonumber(os.getenv("BENCH_START_US"))
  practice_count = tonumber(os.getenv("BENCH_PRACTICES") or "1")
  users = {}
  if mode == "map" then
    local index = 0
    for line in io.lines(os.getenv("BENCH_USERS_FILE")) do
      local user, token = line:match("^(%S+)%s+(%S+)$")
      if index % thread_count() == thread_id then
        table.insert(users, { user, "Bearer " .. token })
      end
      index = index + 1
    end
    assert(#users > 0, "no users for this thread")
  end
end

function thread_count()
  return tonumber(os.getenv("BENCH_THREADS") or "1")
end

local function iso8601(us)
  local seconds = math.floor(us / 1000000)
  return os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%06dZ", us % 1000000)
end

function request()
  if mode ~= "map" then
    return wrk.format("GET", "/heartbeat")
  end
  counter = counter + 1
  local user = users[(counter % #users) + 1]
  local practice = math.floor(counter / #users) % practice_count + 1
  local body = '{"userId":"' .. user[1] .. '","practiceData":{"practiceId":"bench-practice-'
    .. practice .. '","status":"in_progress","progress":0.5,"updatedAt":"'
    .. iso8601(start_us + counter) .. '","state":{"step":' .. counter .. '}}}'
  return wrk.format("POST", "/map",
    { ["Authorization"] = user[2], ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  elseif mode == "map" and not string.find(body, '"applied":true', 1, true) then
    not_applied = not_applied + 1
  end
end

function done(summary, latency, requests)
  local total_not_ok, total_not_applied = 0, 0
  for _, thread in ipairs(threads) do
    total_not_ok = total_not_ok + (thread:get("not_ok") or 0)
    total_not_applied = total_not_applied + (thread:get("not_applied") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,'
    .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"not_ok":%d,"not_applied":%d,'
    .. '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, total_not_ok, total_not_applied,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean))
end
