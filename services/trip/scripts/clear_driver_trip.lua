-- Compare-and-delete for the realtime bridge's driver-to-trip mapping: a
-- cleanup for one trip never removes the mapping of the driver's next trip.
-- KEYS[1] driver:trip:<driver id>   ARGV[1] trip id
-- Returns 1 if the mapping was this trip's and is gone.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
