-- Mirrors a status change from Postgres into Redis.
-- KEYS[1] status cache   KEYS[2] presence   KEYS[3] last position
-- KEYS[4] claim lock     KEYS[5] ride
-- ARGV[1] status   ARGV[2] version (from Postgres)
-- Versions make concurrent changes converge: an older change arriving late
-- is ignored, so the cache always ends at the newest status in Postgres.
-- OFFLINE ends the presence. A driver that is not BUSY is on no ride: its
-- pings are nobody's to watch.
-- Returns {'0'} if ignored, else {'1', stamp...} (see stamp.lua): ONLINE
-- puts a present, unclaimed driver back in its city's index at its last
-- position at once; any other status takes it out.
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, ':(%d+)$'))
  if version and version >= tonumber(ARGV[2]) then
    return {'0'}
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
if ARGV[1] ~= 'BUSY' then
  redis.call('DEL', KEYS[5])
end
if ARGV[1] == 'OFFLINE' then
  redis.call('DEL', KEYS[2])
end
local s = stamp(KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {'1', s[1], s[2], s[3], s[4], s[5]}
