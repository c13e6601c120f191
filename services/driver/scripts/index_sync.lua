-- Makes a city's index say what driver steps stamped (see stamp.lua), for
-- one driver or for a gateway's whole batch of pings at once: each stamp is
-- applied only if it is newer than the last one this city heard for its
-- driver, so a late step never undoes a newer one (within one call too).
-- KEYS[1] the city's GEO set   KEYS[2] its last-seen set (score: the stamp)
-- ARGV[1] presence TTL (us), then five per driver: id, stamp (us), 'add' or
-- 'drop', lng, lat
-- Returns how many stamps were applied.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- Older than a presence lasts: the sweeper may already have removed the
-- driver, and no stamp is left to compare with.
local oldest = now - tonumber(ARGV[1])
local applied = 0
for i = 2, #ARGV - 4, 5 do
  local driver, seq = ARGV[i], ARGV[i + 1]
  if tonumber(seq) >= oldest then
    local heard = redis.call('ZSCORE', KEYS[2], driver)
    if not heard or tonumber(heard) < tonumber(seq) then
      apply_index(KEYS[1], KEYS[2], driver, seq, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
      applied = applied + 1
    end
  end
end
return applied
