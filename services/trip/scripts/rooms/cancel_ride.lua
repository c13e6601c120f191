-- A ride's driver or rider cancels it: the seat comes back; when the driver
-- cancels, the rider goes back to the front of the queue.
-- ARGV[6] caller id, ARGV[7] ride id. Anyone else: not_found.
local caller, ride_id = ARGV[6], ARGV[7]
local _, r = find(room.rides, function(x) return x.id == ride_id end)
if not r or (r.driver_id ~= caller and r.rider_id ~= caller) then
  return refuse('not_found', 'no such ride in this room')
end
if r.status ~= 'CONFIRMED' then
  return refuse('conflict', 'the ride is already cancelled')
end
r.status = 'CANCELLED'
give_seat_back(r.driver_id)
if caller == r.driver_id then to_front({r.rider_id}) end
changed = true
return finish()
