-- A rider queues for a seat. ARGV[6] rider id. Queued already: unchanged.
local id = ARGV[6]
if waiting_at(id) then return finish() end
if pending_of(id) then
  return refuse('conflict', 'a driver has selected you: answer the match request first')
end
if ride_of(id) then
  return refuse('conflict', 'you already have a seat in this room')
end
table.insert(room.riders_waiting, id)
changed = true
return finish()
