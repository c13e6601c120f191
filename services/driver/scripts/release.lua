-- Compare-and-delete: drops the claim only while it still holds this trip,
-- so an old owner never deletes a lock that expired and was retaken; the
-- driver's ride ends too if it is this trip (whether or not the lock ran out).
-- KEYS[1] claim lock   KEYS[2] offer   KEYS[3] ride
-- ARGV[1] trip id
-- Returns 1 if the claim was this trip's and is gone, 0 otherwise.
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
