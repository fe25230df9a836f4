-- One settlement: the sums of `MemoryStore::settle`.
--
-- KEYS[1] `{base}:tpm`  KEYS[2] `{base}:w:{window start ms}`  KEYS[3] `{base}:open`
-- (as in admit.lua)
-- ARGV[1] how far to move the tpm tat (µs, used minus reserved) or ""
-- ARGV[2] the reservation's member of `open` ("" without a budget)
-- ARGV[3] the cost used (nano-units)   ARGV[4] what it held, negated (nano-units)

local MARGIN = 120000000

local function int(x)
  return string.format('%.0f', x)
end

if ARGV[1] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local current = redis.call('GET', KEYS[1])
  -- A tat key that expired was at least MARGIN in the past: count from the latest it
  -- could have been, so what was used beyond the reservation is never forgotten.
  local tat = tonumber(current or int(now - MARGIN)) + tonumber(ARGV[1])
  if current or tat > now then
    local live = math.max(redis.call('PTTL', KEYS[1]), math.floor((tat - now + MARGIN) / 1000))
    redis.call('SET', KEYS[1], int(tat), 'PX', int(math.min(math.max(live, 1), 1e12)))
  end
end

if ARGV[2] ~= '' then
  -- Still open: release its hold. One that expired was released by an admission's sweep.
  local open = redis.call('ZREM', KEYS[3], ARGV[2]) == 1
  if redis.call('EXISTS', KEYS[2]) == 1 then
    if open then
      redis.call('HINCRBY', KEYS[2], 'reserved', ARGV[4])
    end
    redis.call('HINCRBY', KEYS[2], 'spent', ARGV[3])
  end
end
return 0
