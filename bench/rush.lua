-- wrk script for bench/rush.py: each request orders REWARD as the next member in TOKENS_FILE (one
-- "session-id csrf-token" per line), with a fresh Idempotency-Key. Each wrk thread gets its own id, so
-- threads never send the same pair.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  local sid, csrf = line:match("^(%S+) (%S+)$")
  tokens[#tokens + 1] = {sid = sid, csrf = csrf}
end
local reward = os.getenv("REWARD") or "1"
local threads = 0
local n = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  n = id * math.floor(#tokens / 4)
end

function request()
  n = n + 1
  local token = tokens[n % #tokens + 1]
  return wrk.format("POST", "/api/v1/shop/orders", {
    ["Cookie"] = "jifen_session=" .. token.sid,
    ["X-CSRF-Token"] = token.csrf,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("rush-%d-%d-%d", id, os.time(), n),
  }, '{"reward": ' .. reward .. '}')
end
