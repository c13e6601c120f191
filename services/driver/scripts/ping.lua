-- Records one location ping in one round trip.
-- KEYS[1] status cache   driver:status:<id>  ("<STATUS>:<version>")
-- KEYS[2] presence       driver:presence:<id>
-- KEYS[3] last position  driver:pos:<id>     (hash: lat, lng, heading, at, city)
-- KEYS[4] claim lock     driver:lock:<id>
-- KEYS[5] ride           driver:ride:<id>    (the trip whose rider watches)
-- KEYS[6..] per city, in the order of the city ids in ARGV[11..]: its GEO
--   set, then its last-seen set (score: time of the last ping, in ms)
-- ARGV[1] driver id   ARGV[2] lng   ARGV[3] lat   ARGV[4] presence TTL (s)
-- ARGV[5] channel     ARGV[6] event payload (a JSON object, without trip_id)
-- ARGV[7] heading ('' when unknown)   ARGV[8] time (RFC 3339)
-- ARGV[9] time (ms)   ARGV[10] the city this ping lies in ('' for none)
-- ARGV[11..] every city id
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
-- The GEO set and last-seen set of a city, by id.
local function city_keys(city)
  for i = 11, #ARGV do
    if ARGV[i] == city then
      local k = 6 + 2 * (i - 11)
      return KEYS[k], KEYS[k + 1]
    end
  end
  return nil, nil
end
local city = ARGV[10]
local before = redis.call('HGET', KEYS[3], 'city')
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
redis.call('HSET', KEYS[3], 'lat', ARGV[3], 'lng', ARGV[2], 'heading', ARGV[7], 'at', ARGV[8], 'city', city)
-- A driver is matchable only in the city its last ping lies in: leaving a
-- city (for another, or for none) takes it out of the old city's sets.
if before and before ~= city then
  local old_index, old_seen = city_keys(before)
  if old_index then
    redis.call('ZREM', old_index, ARGV[1])
    redis.call('ZREM', old_seen, ARGV[1])
  end
end
local index, seen = city_keys(city)
if seen then
  -- What the sweeper reads: only drivers silent past their presence are
  -- ever looked at, never the whole fleet.
  redis.call('ZADD', seen, ARGV[9], ARGV[1])
end
-- Only matchable drivers are indexed: a BUSY or claimed driver's pings
-- never make it a candidate.
if index and status == 'ONLINE' and redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('GEOADD', index, ARGV[2], ARGV[3], ARGV[1])
end
-- Published only while a rider watches (a BUSY driver on a ride), with the
-- trip named, so no gateway looks anything up per ping and a free driver's
-- ping reaches no gateway at all.
if status == 'BUSY' then
  local ride = redis.call('GET', KEYS[5])
  if ride then
    redis.call('PUBLISH', ARGV[5], '{"trip_id":"' .. ride .. '",' .. string.sub(ARGV[6], 2))
  end
end
return status
