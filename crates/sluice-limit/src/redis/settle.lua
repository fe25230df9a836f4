-- One settlement: the sums of `MemoryStore::settle`.
--
-- KEYS[1] `{base}:tpm`  KEYS[2] `{base}:w:{window start ms}`  KEYS[3] `{base}:open`
-- KEYS[4] `{base}:held` (as in admit.lua)
-- ARGV[1] how far to move the tpm tat (µs, used minus reserved) or ""
-- ARGV[2] reservation id   ARGV[3] the cost used (nano-units)   ARGV[4] "1" with a budget

local MARGIN = 120000000

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(x)
  return string.format('%.0f', x)
end

local function negate(s)
  if s == '0' then return '0' end
  if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end
  return '-' .. s
end

if ARGV[1] ~= '' then
  local adjust = tonumber(ARGV[1])
  local current = redis.call('GET', KEYS[1])
  -- A tat key that expired was at least MARGIN in the past: count from the latest it
  -- could have been, so what was used beyond the reservation is never forgotten.
  local tat = tonumber(current or int(now - MARGIN)) + adjust
  if current or tat > now then
    local live = math.max(redis.call('PTTL', KEYS[1]), math.floor((tat - now + MARGIN) / 1000))
    redis.call('SET', KEYS[1], int(tat), 'PX', int(math.min(math.max(live, 1), 1e12)))
  end
end

if ARGV[4] == '1' then
  local exists = redis.call('EXISTS', KEYS[2]) == 1
  local held = redis.call('HGET', KEYS[4], ARGV[2])
  if held then
    -- Still open: release its hold. One that expired was released by an admission's sweep.
    redis.call('HDEL', KEYS[4], ARGV[2])
    redis.call('ZREM', KEYS[3], ARGV[2])
    local nanos = string.match(held, '^(-?%d+):')
    if exists and nanos then
      redis.call('HINCRBY', KEYS[2], 'reserved', negate(nanos))
    end
  end
  if exists then
    redis.call('HINCRBY', KEYS[2], 'spent', ARGV[3])
  end
end
return 0
