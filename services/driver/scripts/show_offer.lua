-- Shows an open offer to the driver, only while the trip still holds the
-- driver's claim (so a late call never shows a stale offer).
-- KEYS[1] claim lock   KEYS[2] offer
-- ARGV[1] trip id   ARGV[2] offer payload (JSON)   ARGV[3] TTL (s)
-- Returns 1 if shown.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
