-- Creates a budget window with what the ledger says was spent in it, unless it exists: when
-- replicas seed the same window at once, the first one's figure stands.
--
-- KEYS[1] `{base}:w:{window start ms}`
-- ARGV[1] spent (nano-units)   ARGV[2] when it may go (Unix ms): the window's end and a day
--
-- Returns 1 when it created the window, 0 when it was there.

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', '0')
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
