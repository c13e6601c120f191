-- Records one location ping in one round trip.
-- KEYS[1] status cache   driver:status:<id>  ("<STATUS>:<version>")
-- KEYS[2] GEO set        drivers:locations
-- KEYS[3] presence       driver:presence:<id>
-- KEYS[4] last position  driver:pos:<id>     (hash: lat, lng, heading, at)
-- KEYS[5] claim lock     driver:lock:<id>
-- ARGV[1] driver id   ARGV[2] lng   ARGV[3] lat   ARGV[4] presence TTL (s)
-- ARGV[5] channel     ARGV[6] event payload (JSON)
-- ARGV[7] heading ('' when unknown)   ARGV[8] time (RFC 3339)
-- Returns the status: ONLINE or BUSY (recorded), OFFLINE (refused),
-- UNKNOWN (no cached status: load it from Postgres and call again).
local cached = redis.call('GET', KEYS[1])
if not cached then
  return 'UNKNOWN'
end
local status = string.match(cached, '^(%u+)')
if status == 'OFFLINE' then
  return 'OFFLINE'
end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
redis.call('HSET', KEYS[4], 'lat', ARGV[3], 'lng', ARGV[2], 'heading', ARGV[7], 'at', ARGV[8])
-- Only matchable drivers are indexed: a BUSY or claimed driver's pings are
-- published (its rider watches them) but never make it a candidate.
if status == 'ONLINE' and redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('GEOADD', KEYS[2], ARGV[2], ARGV[3], ARGV[1])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return status
