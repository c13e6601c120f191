-- Makes a city's index say what a driver step stamped (see stamp.lua):
-- applied only if the stamp is newer than the last one this city heard for
-- the driver, so a late step never undoes a newer one.
-- KEYS[1] the city's GEO set   KEYS[2] its last-seen set (score: the stamp)
-- ARGV[1] driver id   ARGV[2] stamp (us)   ARGV[3] 'add' or 'drop'
-- ARGV[4] lng   ARGV[5] lat   ARGV[6] presence TTL (us)
-- Returns 1 if applied.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
-- Older than a presence lasts: the sweeper may already have removed the
-- driver, and no stamp is left to compare with.
if tonumber(ARGV[2]) < now - tonumber(ARGV[6]) then
  return 0
end
local heard = redis.call('ZSCORE', KEYS[2], ARGV[1])
if heard and tonumber(heard) >= tonumber(ARGV[2]) then
  return 0
end
apply_index(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
