-- wrk script: POST attempt requests with a bearer credential.
-- Env: MIG06_BENCH_CREDENTIAL (bearer), MIG06_BENCH_BODY (request JSON).
-- The rail runs one attempt per request id (INV-NO-RETRY), so every request gets a fresh ULID:
-- a random per-thread prefix and a per-thread counter, in Crockford base32.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MIG06_BENCH_CREDENTIAL")

local template = os.getenv("MIG06_BENCH_BODY")
local alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
local next_thread = 0
local prefix = nil
local counter = 0

local function base32(n, width)
  local out = {}
  for i = width, 1, -1 do
    local d = n % 32
    out[i] = alphabet:sub(d + 1, d + 1)
    n = (n - d) / 32
  end
  return table.concat(out)
end

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  -- "01" keeps the ULID's first character at most 7; 12 random characters; 12 for the counter.
  local r = {}
  for i = 1, 12 do
    local d = math.random(0, 31)
    r[i] = alphabet:sub(d + 1, d + 1)
  end
  prefix = "01" .. table.concat(r)
end

function request()
  counter = counter + 1
  local id = prefix .. base32(counter, 12)
  local body = template:gsub('"request_id":"[^"]*"', '"request_id":"' .. id .. '"', 1)
  return wrk.format(nil, nil, nil, body)
end
