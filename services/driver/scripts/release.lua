-- Compare-and-delete: drops the claim only while it still holds this trip,
-- so an old owner never deletes a lock that expired and was retaken; the
-- driver's ride ends too if it is this trip (whether or not the lock ran out).
-- KEYS[1] claim lock   KEYS[2] offer   KEYS[3] ride   KEYS[4] status cache
-- KEYS[5] presence     KEYS[6] last position
-- ARGV[1] trip id   ARGV[2] '1' when the driver's phone proved unreachable:
-- its presence ends too, so it stays out of the index until its next ping
-- Returns {'0'} if the claim was not this trip's, else {'1', stamp...}
-- (see stamp.lua): a driver still ONLINE is back in its city's index at
-- once (a BUSY one comes back when its status is set ONLINE).
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'0'}
end
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[5])
end
local s = stamp(KEYS[4], KEYS[5], KEYS[6], KEYS[1])
return {'1', s[1], s[2], s[3], s[4], s[5]}
