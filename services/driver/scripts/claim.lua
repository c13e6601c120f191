-- Claims a driver for a trip: exactly one trip wins a driver.
-- KEYS[1] claim lock   KEYS[2] presence   KEYS[3] status cache   KEYS[4] GEO set
-- ARGV[1] trip id (the lock's token)   ARGV[2] TTL (s)   ARGV[3] driver id
-- Returns 1 if the trip holds the driver (again, for a retry), 0 if the
-- driver is gone (no presence), not ONLINE, or held by another trip.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return 1
end
if holder then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
local cached = redis.call('GET', KEYS[3])
if not cached or string.match(cached, '^(%u+)') ~= 'ONLINE' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
