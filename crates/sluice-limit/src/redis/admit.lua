-- One admission, all limits or none: the sums of `rate.rs` and `MemoryStore::admit`, on
-- Redis's clock.
--
-- KEYS[1] `{base}:rpm`  requests per minute: the GCRA tat (Unix µs), an integer string
-- KEYS[2] `{base}:tpm`  tokens per minute: the same
-- KEYS[3] `{base}:w:{window start ms}`  the budget window: hash `spent`, `reserved` (nano-units)
-- KEYS[4] `{base}:open`  open reservations: sorted set, member
--         "{id}:{nano-units held}:{window start ms}", score its expiry (Unix µs)
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
-- Tat keys outlive their tat by this, and the open reservations their last hold.
local MARGIN = 120000000
-- A cap on expired reservations released per call, so a replica that died with many open
-- ones does not stall Redis in one script; the rest go at the next admissions.
local SWEEP = 1000

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(x)
  return string.format('%.0f', x)
end

local budget = ARGV[3] ~= ''
local window
if budget then
  window = redis.call('HMGET', KEYS[3], 'spent', 'reserved')
  if not window[1] then
    return {2}
  end
end

-- Release holds whose request outlived its time limit without settling: a reservation is
-- always settled or expired.
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, SWEEP)
local released_here = 0
if #expired > 0 then
  local by_window = {}
  for _, member in ipairs(expired) do
    local nanos, start = string.match(member, '^%d+:(-?%d+):(-?%d+)$')
    if nanos then
      by_window[start] = (by_window[start] or 0) + tonumber(nanos)
    end
  end
  for start, nanos in pairs(by_window) do
    local key = ARGV[9] .. ':w:' .. start
    -- (HINCRBY takes no "-0".)
    if nanos ~= 0 and ((start == ARGV[8] and budget) or redis.call('EXISTS', key) == 1) then
      redis.call('HINCRBY', key, 'reserved', int(-nanos))
      if start == ARGV[8] then released_here = nanos end
    end
  end
  redis.call('ZREM', KEYS[4], unpack(expired))
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
  local used = tonumber(window[1]) + tonumber(window[2] or '0') - released_here
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
  -- A settlement moves this tat when its request ends: keep it while any hold lasts.
  local live = math.max(redis.call('PTTL', KEYS[2]), (math.max(tpm_tat - now, hold) + MARGIN) / 1000)
  redis.call('SET', KEYS[2], int(tpm_tat), 'PX', int(math.min(live, 1e12)))
end
if budget then
  redis.call('HINCRBY', KEYS[3], 'reserved', ARGV[4])
  redis.call('ZADD', KEYS[4], int(now + hold), ARGV[6] .. ':' .. ARGV[4] .. ':' .. ARGV[8])
  -- Kept until the last hold in it expires: extended, never shortened (NX: a new set).
  local live = int(math.min((hold + MARGIN) / 1000, 1e12))
  if redis.call('PEXPIRE', KEYS[4], live, 'GT') == 0 then
    redis.call('PEXPIRE', KEYS[4], live, 'NX')
  end
end
return {0}
