-- Removes from a city's index the drivers it has heard nothing of for
-- longer than a presence lasts (every ping and presence refresh stamps the
-- last-seen set, so these are gone, or moved to another city).
-- KEYS[1] the city's GEO set   KEYS[2] its last-seen set
-- ARGV[1] presence TTL (us)   ARGV[2] the most to remove in one call
-- Returns how many were removed.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cutoff = string.format('%.0f', now - tonumber(ARGV[1]))
local silent = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff, 'LIMIT', 0, ARGV[2])
if #silent > 0 then
  redis.call('ZREM', KEYS[2], unpack(silent))
  redis.call('ZREM', KEYS[1], unpack(silent))
end
return #silent
