-- Shared head of every room script: the room is one JSON value, read,
-- changed and written back inside one script, so every room action is one
-- atomic step (two drivers selecting one rider: the second sees the first).
--
-- KEYS[1] the room's state key, KEYS[2] its city's rooms-with-pending-matches zset
-- (one slot: see keys.rs). PUBLISH (set before this prelude) is PUBLISH, or
-- SPUBLISH on a cluster.
-- ARGV[1] now (ms since the epoch)   ARGV[2] the city's rooms events channel
-- ARGV[3] public room key            ARGV[4] departure (RFC 3339)
-- ARGV[5] when the room is dropped (ms since the epoch)
-- ARGV[6..] the action's own arguments
-- Returns {"ok", state_json, extra} or {error_code, message}; error codes
-- are "conflict", "not_found", "forbidden".
local now = tonumber(ARGV[1])
local room
local stored = redis.call('GET', KEYS[1])
if stored then
  room = cjson.decode(stored)
else
  if ARGV[3] == '' then
    return {'not_found', 'room is gone'}
  end
  room = {key = ARGV[3], departs_at = ARGV[4], drop_ms = tonumber(ARGV[5]),
          drivers = {}, riders_waiting = {}, pending = {}, rides = {}}
end
local changed = false
local notices = {}

local function find(list, pred)
  for i, item in ipairs(list) do
    if pred(item) then return i, item end
  end
  return nil
end

local function driver_of(id)
  return find(room.drivers, function(d) return d.driver_id == id end)
end

local function waiting_at(rider)
  return find(room.riders_waiting, function(r) return r == rider end)
end

local function pending_of(rider)
  return find(room.pending, function(p) return p.rider_id == rider end)
end

local function ride_of(rider)
  return find(room.rides, function(r) return r.rider_id == rider and r.status == 'CONFIRMED' end)
end

local function give_seat_back(driver_id)
  local _, d = driver_of(driver_id)
  if d then d.seats_left = d.seats_left + 1 end
end

-- Puts riders at the front of the queue, keeping their order among themselves.
local function to_front(riders)
  for i = #riders, 1, -1 do
    table.insert(room.riders_waiting, 1, riders[i])
  end
end

-- Pending matches whose time ran out send their rider back to the front.
local expired = {}
for i = #room.pending, 1, -1 do
  local p = room.pending[i]
  if p.expires_ms <= now then
    table.remove(room.pending, i)
    give_seat_back(p.driver_id)
    table.insert(expired, 1, p.rider_id)
  end
end
if #expired > 0 then
  to_front(expired)
  changed = true
end

local function list(items, encode_item)
  local parts = {}
  for i, item in ipairs(items) do parts[i] = encode_item(item) end
  return '[' .. table.concat(parts, ',') .. ']'
end

local function str(s) return cjson.encode(s) end

-- cjson would write an empty list as {}; the contract wants [], so the room
-- is written by hand. `internal` adds what only the scripts need.
local function encode(internal)
  local drivers = list(room.drivers, function(d)
    local s = '{"driver_id":' .. str(d.driver_id) .. ',"seats_left":' .. d.seats_left
    if internal then s = s .. ',"seats":' .. d.seats end
    return s .. '}'
  end)
  local pending = list(room.pending, function(p)
    local s = '{"rider_id":' .. str(p.rider_id) .. ',"driver_id":' .. str(p.driver_id)
      .. ',"expires_at":' .. str(p.expires_at)
    if internal then s = s .. ',"expires_ms":' .. string.format('%d', p.expires_ms) end
    return s .. '}'
  end)
  local rides = list(room.rides, function(r)
    return '{"id":' .. str(r.id) .. ',"rider_id":' .. str(r.rider_id) .. ',"driver_id":'
      .. str(r.driver_id) .. ',"status":' .. str(r.status) .. '}'
  end)
  local s = '{"key":' .. str(room.key) .. ',"departs_at":' .. str(room.departs_at)
    .. ',"drivers":' .. drivers .. ',"riders_waiting":' .. list(room.riders_waiting, str)
    .. ',"pending":' .. pending .. ',"rides":' .. rides
  if internal then s = s .. ',"drop_ms":' .. string.format('%d', room.drop_ms) end
  return s .. '}'
end

-- Writes the room back (when it changed), keeps the pending index right and
-- publishes the new state; returns the public state.
local function finish(extra)
  local public = encode(false)
  if changed then
    if #room.drivers == 0 and #room.riders_waiting == 0 and #room.pending == 0 and #room.rides == 0 then
      redis.call('DEL', KEYS[1])
    else
      redis.call('SET', KEYS[1], encode(true), 'PXAT', string.format('%d', room.drop_ms))
    end
    local earliest
    for _, p in ipairs(room.pending) do
      if not earliest or p.expires_ms < earliest then earliest = p.expires_ms end
    end
    if earliest then
      redis.call('ZADD', KEYS[2], earliest, KEYS[1])
    else
      redis.call('ZREM', KEYS[2], KEYS[1])
    end
    redis.call(PUBLISH, ARGV[2], '{"type":"state","state":' .. public .. '}')
  end
  for _, n in ipairs(notices) do
    redis.call(PUBLISH, ARGV[2], n)
  end
  return {'ok', public, extra or ''}
end

local function refuse(code, message)
  -- Expired matches found on the way are still written back.
  if changed then finish() end
  return {code, message}
end
