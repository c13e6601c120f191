-- The driver is on the trip now (accepted, or auto-assigned): clears the
-- offer shown to it if it is this trip's, and makes the trip the driver's
-- ride, whose rider its pings are published to.
-- KEYS[1] offer   KEYS[2] claim lock   KEYS[3] status cache   KEYS[4] ride
-- KEYS[5] pickup
-- ARGV[1] trip id   ARGV[2] "<trip> <lat> <lng>" of the pickup ('' when
-- not known: the pickup key is left as it is)   ARGV[3] its TTL (s)
-- The ride is set only while the driver is BUSY and no other trip holds its
-- claim (the lock may have run out: the trip's confirmation in Postgres came
-- first), so a late call never points a driver's pings at a trip it left.
-- Returns 1 if the ride is set.
local offer = redis.call('GET', KEYS[1])
if offer and string.find(offer, ARGV[1], 1, true) then
  redis.call('DEL', KEYS[1])
end
local status = redis.call('GET', KEYS[3])
if not status or string.match(status, '^(%u+)') ~= 'BUSY' then
  return 0
end
local lock = redis.call('GET', KEYS[2])
if lock and lock ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[4], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[5], ARGV[2], 'EX', ARGV[3])
end
return 1
