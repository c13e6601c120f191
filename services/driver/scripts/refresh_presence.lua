-- Extends a live presence (a driver's open socket between pings); an
-- expired presence stays expired until the next ping.
-- KEYS[1] status cache   KEYS[2] presence   KEYS[3] last position
-- KEYS[4] claim lock
-- ARGV[1] presence TTL (s)
-- Returns {'0'} if the presence had expired, else {'1', stamp...} (see
-- stamp.lua), so the city's index hears of the driver as after a ping.
if redis.call('EXPIRE', KEYS[2], ARGV[1]) == 0 then
  return {'0'}
end
local s = stamp(KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {'1', s[1], s[2], s[3], s[4], s[5]}
