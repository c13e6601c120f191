-- Records one location ping of a driver (one slot: the driver's keys).
-- KEYS[1] status cache   driver:{id}:status  ("<STATUS>:<version>")
-- KEYS[2] presence       driver:{id}:presence
-- KEYS[3] last position  driver:{id}:pos     (hash: lat, lng, heading, at, city, seq)
-- KEYS[4] claim lock     driver:{id}:lock
-- KEYS[5] ride           driver:{id}:ride    (the trip whose rider watches)
-- KEYS[6] pickup         driver:{id}:pickup  ("<trip> <lat> <lng>" until arrival)
-- KEYS[7], KEYS[8] (single Redis only, when the ping lies in a city): the
-- city's GEO set and last-seen set, so the index is written here and not by
-- a second script (on a cluster they live in another slot: index_sync.lua)
-- ARGV[1] lng   ARGV[2] lat   ARGV[3] presence TTL (s)   ARGV[4] heading
-- ('' when unknown)   ARGV[5] time (RFC 3339)   ARGV[6] the city this ping
-- lies in ('' for none)   ARGV[7] driver id (with KEYS[7])
-- Returns {status} when refused: OFFLINE, or UNKNOWN (no cached status:
-- load it from Postgres and call again); else {status, the city of the
-- ping before, the ride ('' for none), the ride's pickup ('' for none),
-- '1' if the city's index is written ('0': sync the stamp), stamp...}
-- (see stamp.lua). The
-- caller publishes the ping to the ride's rider: only a BUSY driver on a
-- ride has one, so a free driver's ping reaches no gateway at all.
local cached = redis.call('GET', KEYS[1])
if not cached then
  return {'UNKNOWN'}
end
local status = string.match(cached, '^(%u+)')
if status == 'OFFLINE' then
  return {'OFFLINE'}
end
local pos = redis.call('HMGET', KEYS[3], 'city', 'seq')
local seq = next_seq(pos[2])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
redis.call('HSET', KEYS[3], 'lat', ARGV[2], 'lng', ARGV[1], 'heading', ARGV[4], 'at', ARGV[5], 'city', ARGV[6], 'seq', seq)
-- As stamp() would say, from what this script knows: just present, at the
-- position it was given.
local intent = 'drop'
if status == 'ONLINE' and redis.call('EXISTS', KEYS[4]) == 0 then
  intent = 'add'
end
local ride = ''
local pickup = ''
if status == 'BUSY' then
  ride = redis.call('GET', KEYS[5]) or ''
  if ride ~= '' then
    pickup = redis.call('GET', KEYS[6]) or ''
  end
end
local indexed = '0'
if KEYS[7] then
  apply_index(KEYS[7], KEYS[8], ARGV[7], seq, intent, ARGV[1], ARGV[2])
  indexed = '1'
end
return {status, pos[1] or '', ride, pickup, indexed, seq, ARGV[6], intent, ARGV[1], ARGV[2]}
