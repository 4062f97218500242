-- wrk script for bench/growth.py: GET PATH as the next member in TOKENS_FILE (one "session-id" per line).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local path = os.getenv("PATH_TO_GET")
local threads, n = 0, 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  n = id * 7919
end

function request()
  n = n + 1
  return wrk.format("GET", path, {["Cookie"] = "jifen_session=" .. tokens[n % #tokens + 1]})
end
