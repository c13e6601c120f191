-- Extends a live presence (a driver's open socket between pings) and marks
-- the driver seen now, so the sweeper does not look at it; an expired
-- presence stays expired until the next ping.
-- KEYS[1] presence   KEYS[2] last position
-- KEYS[3..] every city's last-seen set, in the order of the city ids in ARGV[4..]
-- ARGV[1] driver id   ARGV[2] presence TTL (s)   ARGV[3] time (ms)
-- ARGV[4..] every city id
-- Returns 1 if the presence was live.
if redis.call('EXPIRE', KEYS[1], ARGV[2]) == 0 then
  return 0
end
local city = redis.call('HGET', KEYS[2], 'city')
for i = 4, #ARGV do
  if ARGV[i] == city then
    redis.call('ZADD', KEYS[3 + (i - 4)], 'XX', ARGV[3], ARGV[1])
  end
end
return 1
