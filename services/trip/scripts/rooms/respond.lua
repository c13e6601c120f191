-- The pending rider answers. ARGV[6] rider id, ARGV[7] "1" accept / "0"
-- decline, ARGV[8] the new ride's id. Accept: the held seat becomes a ride;
-- decline: the seat comes back and the rider goes to the front of the queue.
-- extra = the driver's id.
local rider_id, accept = ARGV[6], ARGV[7] == '1'
local j, p = pending_of(rider_id)
if not j then
  return refuse('conflict', 'you have no pending match in this room (it may have expired)')
end
table.remove(room.pending, j)
if accept then
  table.insert(room.rides, {id = ARGV[8], rider_id = rider_id, driver_id = p.driver_id, status = 'CONFIRMED'})
else
  give_seat_back(p.driver_id)
  to_front({rider_id})
end
changed = true
return finish(p.driver_id)
