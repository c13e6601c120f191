-- A driver with a seat left picks a waiting rider, who moves to pending and
-- is asked to confirm; the seat is held meanwhile.
-- ARGV[6] driver id, ARGV[7] rider id, ARGV[8] expiry ms, ARGV[9] expiry RFC 3339
local driver_id, rider_id = ARGV[6], ARGV[7]
local _, d = driver_of(driver_id)
if not d then
  return refuse('conflict', 'join the room as a driver before selecting riders')
end
if d.seats_left < 1 then
  return refuse('conflict', 'you have no seat left')
end
local i = waiting_at(rider_id)
if not i then
  return refuse('conflict', 'that rider is no longer waiting')
end
table.remove(room.riders_waiting, i)
d.seats_left = d.seats_left - 1
table.insert(room.pending, {rider_id = rider_id, driver_id = driver_id,
  expires_ms = tonumber(ARGV[8]), expires_at = ARGV[9]})
changed = true
table.insert(notices, '{"type":"match_request","rider_id":' .. str(rider_id)
  .. ',"request":{"key":' .. str(room.key) .. ',"driver_id":' .. str(driver_id)
  .. ',"expires_at":' .. str(ARGV[9]) .. '}}')
return finish()
