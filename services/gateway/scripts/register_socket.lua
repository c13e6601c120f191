-- Records a user's new socket and says which of their sockets must go so
-- that at most the cap stay open: the oldest first.
-- KEYS[1] the user's sockets (sorted set, score: connect time in ms)
-- ARGV[1] socket id   ARGV[2] now (ms)   ARGV[3] cap   ARGV[4] key TTL (s)
-- Returns the ids of the sockets to disconnect (removed from the set).
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local evicted = {}
if excess > 0 then
  evicted = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  redis.call('ZREM', KEYS[1], unpack(evicted))
end
-- A gateway that died leaves its sockets here; they are the oldest, so the
-- next connections evict them (a no-op), and the key expires in any case.
redis.call('EXPIRE', KEYS[1], ARGV[4])
return evicted
