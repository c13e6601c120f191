-- Compare-and-delete: drops the claim only while it still holds this trip,
-- so an old owner never deletes a lock that expired and was retaken.
-- KEYS[1] claim lock   KEYS[2] offer
-- ARGV[1] trip id
-- Returns 1 if the claim was this trip's and is gone, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
