-- One admission, all limits or none: the sums of `rate.rs` and `MemoryStore::admit`, on
-- Redis's clock.
--
-- KEYS[1] `{base}:rpm`  requests per minute: the GCRA tat (Unix µs), an integer string
-- KEYS[2] `{base}:tpm`  tokens per minute: the same
-- KEYS[3] `{base}:w:{window start ms}`  the budget window: hash `spent`, `reserved` (nano-units)
-- KEYS[4] `{base}:open`  open reservations: sorted set, member the id, score its expiry (µs)
-- KEYS[5] `{base}:held`  what each open reservation holds: hash id -> "nano-units:window start"
-- ARGV[1] rpm cost (µs) or ""     ARGV[2] tpm cost (µs) or ""
-- ARGV[3] budget (nano-units) or "" when the key has none
-- ARGV[4] the ask (nano-units)    ARGV[5] the window's end (Unix ms)
-- ARGV[6] reservation id          ARGV[7] hold (µs)
-- ARGV[8] the window's start (ms) ARGV[9] `{base}`, to name the windows of expired holds
--
-- Returns {0} admitted, {1, reason, retry after µs} refused (reason 1 rpm, 2 tpm, 3 too large,
-- 4 budget), {2} when the budget window is not in Redis yet (nothing is changed: the caller
-- seeds it from the ledger and asks again).
--
-- Lua numbers are doubles: times in µs and amounts below 2^53 nano-units (nine million units
-- of a currency) compare exactly; the counters themselves change by HINCRBY on the exact
-- integer strings.

local MINUTE = 60000000
-- Tat keys outlive their tat by this, and a held reservation's lists outlive its hold by it.
local MARGIN = 120000000
-- A cap on expired reservations released per call, so a replica that died with many open
-- ones does not stall Redis in one script; the rest go at the next admissions.
local SWEEP = 1000

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

-- Sets a key's time to live to `ms` unless it already lives longer.
local function keep_for(key, ms)
  ms = math.min(math.floor(ms), 1e12)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, ms)
  end
end

local budget = ARGV[3] ~= ''
if budget and redis.call('EXISTS', KEYS[3]) == 0 then
  return {2}
end

-- Release holds whose request outlived its time limit without settling: a reservation is
-- always settled or expired.
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, SWEEP)
for _, id in ipairs(expired) do
  local held = redis.call('HGET', KEYS[5], id)
  if held then
    local nanos, start = string.match(held, '^(-?%d+):(-?%d+)$')
    local window = ARGV[9] .. ':w:' .. start
    if nanos and redis.call('EXISTS', window) == 1 then
      redis.call('HINCRBY', window, 'reserved', negate(nanos))
    end
    redis.call('HDEL', KEYS[5], id)
  end
  redis.call('ZREM', KEYS[4], id)
end

-- One GCRA step: the new tat, or nil and the wait until the cost would fit.
local function gcra(key, cost)
  local tat = tonumber(redis.call('GET', key) or '0')
  local new = math.max(tat, now) + cost
  local ahead = new - now
  if ahead <= MINUTE then
    return new, 0
  end
  return nil, math.min(ahead - MINUTE, 4e18)
end

local rpm_tat, tpm_tat, wait
if ARGV[1] ~= '' then
  rpm_tat, wait = gcra(KEYS[1], tonumber(ARGV[1]))
  if not rpm_tat then return {1, 1, wait} end
end
if ARGV[2] ~= '' then
  local cost = tonumber(ARGV[2])
  if cost > MINUTE then return {1, 3, MINUTE} end
  tpm_tat, wait = gcra(KEYS[2], cost)
  if not tpm_tat then return {1, 2, wait} end
end
if budget then
  local w = redis.call('HMGET', KEYS[3], 'spent', 'reserved')
  local used = tonumber(w[1] or '0') + tonumber(w[2] or '0')
  local limit = tonumber(ARGV[3])
  if not (used < limit and used + tonumber(ARGV[4]) <= limit) then
    return {1, 4, tonumber(ARGV[5]) * 1000 - now}
  end
end

-- Every limit holds: commit them together.
local hold = tonumber(ARGV[7])
if rpm_tat then
  redis.call('SET', KEYS[1], int(rpm_tat), 'PX', int((rpm_tat - now + MARGIN) / 1000))
end
if tpm_tat then
  -- A settlement moves this tat when its request ends: keep it while the hold lasts.
  local live = math.max(redis.call('PTTL', KEYS[2]), (math.max(tpm_tat - now, hold) + MARGIN) / 1000)
  redis.call('SET', KEYS[2], int(tpm_tat), 'PX', int(math.min(live, 1e12)))
end
if budget then
  redis.call('HINCRBY', KEYS[3], 'reserved', ARGV[4])
  redis.call('ZADD', KEYS[4], int(now + hold), ARGV[6])
  redis.call('HSET', KEYS[5], ARGV[6], ARGV[4] .. ':' .. ARGV[8])
  keep_for(KEYS[4], (hold + MARGIN) / 1000)
  keep_for(KEYS[5], (hold + MARGIN) / 1000)
end
return {0}
