-- Prepended to every script that changes what a driver's city index should
-- say about it (ping, status, presence refresh, claim), and to the one that
-- writes a city's index (index_sync.lua).
--
-- On a Redis Cluster a driver's keys and its city's index live in
-- different slots, so no script writes both. Instead, each change to the
-- driver is stamped with a per-driver sequence (microseconds from Redis's
-- clock, never repeating nor going back for one driver), and the script
-- returns what the index should now hold; `index_sync.lua` then applies it
-- to the city only if no newer stamp got there first. So however two
-- changes to one driver interleave, its index entry ends as the newer one
-- says.
--
-- Every redis.call costs (more so on a cluster, which checks each call's
-- slot): the ping, the hottest, stamps inline with what it already knows.
--
-- stamp(status, presence, pos, lock) takes the driver's keys and returns
-- {seq, city, intent, lng, lat}: intent is 'add' when the driver is ONLINE,
-- present, unclaimed and has a position, else 'drop'; city is where its
-- last ping lay ('' for none).
-- The driver's next sequence after `last` (a stored stamp, or nil).
local function next_seq(last)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  -- '%.0f' keeps all 16 digits (a Lua number handed to Redis would keep 14).
  return string.format('%.0f', math.max(now, (tonumber(last or '0') or 0) + 1))
end

local function stamp(status_key, presence_key, pos_key, lock_key)
  local pos = redis.call('HMGET', pos_key, 'lng', 'lat', 'city', 'seq')
  local seq = next_seq(pos[4])
  redis.call('HSET', pos_key, 'seq', seq)
  local cached = redis.call('GET', status_key)
  local intent = 'drop'
  if cached and string.match(cached, '^(%u+)') == 'ONLINE'
      and redis.call('EXISTS', presence_key) == 1
      and redis.call('EXISTS', lock_key) == 0
      and pos[1] and pos[2] then
    intent = 'add'
  end
  return {seq, pos[3] or '', intent, pos[1] or '', pos[2] or ''}
end

-- Makes a city's index say what a stamp says of a driver: its last-seen
-- score is the stamp, and it is in the GEO set only when the intent is
-- 'add'. Callers decide whether the stamp may be applied: index_sync.lua
-- checks it is the newest the city heard; ping.lua and claim.lua (single
-- Redis only, the city's keys passed in with the driver's) made the
-- driver's newest stamp in the same script, so no newer one can be there.
local function apply_index(geo_key, seen_key, driver, seq, intent, lng, lat)
  -- The last-seen set is also what the sweeper reads: only drivers silent
  -- past their presence are ever looked at, never the whole fleet.
  redis.call('ZADD', seen_key, seq, driver)
  if intent == 'add' then
    redis.call('GEOADD', geo_key, lng, lat, driver)
  else
    redis.call('ZREM', geo_key, driver)
  end
end
