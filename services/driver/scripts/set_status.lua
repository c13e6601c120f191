-- Mirrors a status change from Postgres into Redis, and fixes the index.
-- KEYS[1] status cache   KEYS[2] presence   KEYS[3] last position
-- KEYS[4] claim lock     KEYS[5] ride
-- KEYS[6..] per city, in the order of the city ids in ARGV[4..]: its GEO
--   set, then its last-seen set
-- ARGV[1] driver id   ARGV[2] status   ARGV[3] version (from Postgres)
-- ARGV[4..] every city id
-- Versions make concurrent changes converge: an older change arriving late
-- is ignored, so the cache always ends at the newest status in Postgres.
-- ONLINE puts a present, unclaimed driver back in its city's GEO set at its
-- last position at once; any other status takes it out (OFFLINE out of the
-- last-seen set too). A driver that is not BUSY is on no ride: its pings
-- are nobody's to watch. Returns 1 if applied.
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, ':(%d+)$'))
  if version and version >= tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3])
if ARGV[2] ~= 'BUSY' then
  redis.call('DEL', KEYS[5])
end
if ARGV[2] == 'OFFLINE' then
  redis.call('DEL', KEYS[2])
end
local pos = redis.call('HMGET', KEYS[3], 'lng', 'lat', 'city')
local index, seen = nil, nil
for i = 4, #ARGV do
  if ARGV[i] == pos[3] then
    index = KEYS[6 + 2 * (i - 4)]
    seen = KEYS[7 + 2 * (i - 4)]
  end
end
if not index then
  -- Never pinged, or last seen in no city: in no index.
  return 1
end
if ARGV[2] == 'ONLINE' then
  if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('EXISTS', KEYS[4]) == 0
      and pos[1] and pos[2] then
    redis.call('GEOADD', index, pos[1], pos[2], ARGV[1])
  end
else
  redis.call('ZREM', index, ARGV[1])
  if ARGV[2] == 'OFFLINE' then
    redis.call('ZREM', seen, ARGV[1])
  end
end
return 1
