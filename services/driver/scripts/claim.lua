-- Claims one driver for a trip: only if it is present, ONLINE, in the
-- trip's city (by its last ping) and held by nobody, so exactly one trip
-- wins it. A trip that already holds it (a retried call) keeps it.
-- KEYS[1] status cache   KEYS[2] presence   KEYS[3] last position
-- KEYS[4] claim lock
-- ARGV[1] trip id   ARGV[2] city id   ARGV[3] TTL (s)
-- Returns {'0'} if not won, or {'1', stamp...} (see stamp.lua: the claimed
-- driver leaves its city's index).
local held = redis.call('GET', KEYS[4])
if held and held ~= ARGV[1] then
  return {'0'}
end
if not held then
  if redis.call('EXISTS', KEYS[2]) == 0
      or redis.call('HGET', KEYS[3], 'city') ~= ARGV[2] then
    return {'0'}
  end
  local cached = redis.call('GET', KEYS[1])
  if not cached or string.match(cached, '^(%u+)') ~= 'ONLINE' then
    return {'0'}
  end
  redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3])
end
local s = stamp(KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {'1', s[1], s[2], s[3], s[4], s[5]}
