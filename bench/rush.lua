-- wrk script for bench/rush.py: each request orders REWARD as the next member in TOKENS_FILE,
-- with a fresh Idempotency-Key.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local reward = os.getenv("REWARD") or "1"
local n = 0

function init(args)
  math.randomseed(os.time() + math.random(1, 1000000))
  n = math.random(1, #tokens)
end

function request()
  n = n + 1
  local token = tokens[n % #tokens + 1]
  return wrk.format("POST", "/api/v1/shop/orders", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("rush-%d-%d", math.random(1, 2000000000), n),
  }, '{"reward": ' .. reward .. '}')
end
