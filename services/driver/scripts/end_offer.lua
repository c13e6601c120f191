-- Clears the offer shown to a driver if it is this trip's (accepted, or
-- answered), keeping the claim.
-- KEYS[1] offer   ARGV[1] trip id
local offer = redis.call('GET', KEYS[1])
if offer and string.find(offer, ARGV[1], 1, true) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
