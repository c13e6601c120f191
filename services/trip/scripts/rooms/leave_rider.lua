-- A rider leaves the queue (or declines a pending match by leaving).
-- ARGV[6] rider id. A rider with a confirmed ride must cancel it instead.
local id = ARGV[6]
local i = waiting_at(id)
if i then
  table.remove(room.riders_waiting, i)
  changed = true
  return finish()
end
local j, p = pending_of(id)
if j then
  table.remove(room.pending, j)
  give_seat_back(p.driver_id)
  changed = true
  return finish()
end
if ride_of(id) then
  return refuse('conflict', 'you have a seat in this room: cancel the ride to leave')
end
return finish()
