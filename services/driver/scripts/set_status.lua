-- Mirrors a status change from Postgres into Redis, and fixes the index.
-- KEYS[1] status cache   KEYS[2] GEO set   KEYS[3] presence
-- KEYS[4] last position  KEYS[5] claim lock
-- ARGV[1] driver id   ARGV[2] status   ARGV[3] version (from Postgres)
-- Versions make concurrent changes converge: an older change arriving late
-- is ignored, so the cache always ends at the newest status in Postgres.
-- ONLINE puts a present, unclaimed driver back in the GEO set at its last
-- position at once; any other status takes it out. Returns 1 if applied.
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, ':(%d+)$'))
  if version and version >= tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3])
if ARGV[2] == 'ONLINE' then
  if redis.call('EXISTS', KEYS[3]) == 1 and redis.call('EXISTS', KEYS[5]) == 0 then
    local pos = redis.call('HMGET', KEYS[4], 'lng', 'lat')
    if pos[1] and pos[2] then
      redis.call('GEOADD', KEYS[2], pos[1], pos[2], ARGV[1])
    end
  end
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  if ARGV[2] == 'OFFLINE' then
    redis.call('DEL', KEYS[3])
  end
end
return 1
