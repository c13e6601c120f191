-- A driver offers seats. ARGV[6] driver id, ARGV[7] seats (1..8).
-- Joining again changes the seat count, never below the seats in use.
local id, seats = ARGV[6], tonumber(ARGV[7])
local _, d = driver_of(id)
if d then
  local in_use = d.seats - d.seats_left
  if seats < in_use then
    return refuse('conflict', 'you already have ' .. in_use .. ' riders; cancel rides before offering fewer seats')
  end
  if d.seats ~= seats then
    d.seats, d.seats_left = seats, seats - in_use
    changed = true
  end
else
  table.insert(room.drivers, {driver_id = id, seats = seats, seats_left = seats})
  changed = true
end
return finish()
