-- Claims one driver for a trip: only if it is present, ONLINE, in the
-- trip's city (by its last ping) and held by nobody, so exactly one trip
-- wins it. A trip that already holds it (a retried call) keeps it.
-- KEYS[1] status cache   KEYS[2] presence   KEYS[3] last position
-- KEYS[4] claim lock
-- ARGV[1] trip id   ARGV[2] city id   ARGV[3] TTL (s)
-- KEYS[5], KEYS[6] (single Redis only): that city's GEO set and last-seen
-- set, so the claimed driver leaves the index here and not by a second
-- script (on a cluster they live in another slot: index_sync.lua)
-- ARGV[4] driver id (with KEYS[5])
-- Returns {'0'} if not won, or {'1', stamp..., indexed} (see stamp.lua: the
-- claimed driver leaves its city's index; indexed is '1' when this script
-- wrote the index, '0' when the caller must sync the stamp).
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
local indexed = '0'
if KEYS[5] and s[2] == ARGV[2] then
  apply_index(KEYS[5], KEYS[6], ARGV[4], s[1], s[3], s[4], s[5])
  indexed = '1'
end
return {'1', s[1], s[2], s[3], s[4], s[5], indexed}
