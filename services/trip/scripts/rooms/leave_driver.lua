-- A driver leaves. ARGV[6] driver id. Its riders, confirmed then pending, go
-- back to the front of the queue; extra = its cancelled ride ids, comma-joined.
local id = ARGV[6]
local i = driver_of(id)
if not i then return finish() end
table.remove(room.drivers, i)
local back, cancelled = {}, {}
for _, r in ipairs(room.rides) do
  if r.driver_id == id and r.status == 'CONFIRMED' then
    r.status = 'CANCELLED'
    table.insert(back, r.rider_id)
    table.insert(cancelled, r.id)
  end
end
local still_pending = {}
for _, p in ipairs(room.pending) do
  if p.driver_id == id then
    table.insert(back, p.rider_id)
  else
    table.insert(still_pending, p)
  end
end
room.pending = still_pending
to_front(back)
changed = true
return finish(table.concat(cancelled, ','))
