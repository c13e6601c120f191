-- Claims drivers for a batch of trips, in the order given: each trip takes
-- the first of its drivers that is present, ONLINE and held by nobody (a trip
-- earlier in this call included), so exactly one trip wins a driver and a
-- trip is never beaten to a driver by one behind it.
-- KEYS[1] GEO set; then per driver slot, in ARGV order: claim lock, presence,
--   status cache (KEYS[3i-1], KEYS[3i], KEYS[3i+1] for slot i)
-- ARGV[1] TTL (s)   ARGV[2] number of trips; then per trip: trip id, number
--   of its drivers, then those driver ids (nearest first)
-- Returns per trip the driver id it holds, or '' for none. A trip that
-- already holds one of its drivers (a retried call) keeps it.
local ttl = ARGV[1]
local trips = tonumber(ARGV[2])
local out = {}
local arg = 3
local first_slot = 1
for t = 1, trips do
  local trip = ARGV[arg]
  local count = tonumber(ARGV[arg + 1])
  local won = ''
  -- A retried call: the trip keeps what it already holds.
  for d = 0, count - 1 do
    if won == '' and redis.call('GET', KEYS[3 * (first_slot + d) - 1]) == trip then
      won = ARGV[arg + 2 + d]
    end
  end
  for d = 0, count - 1 do
    local slot = first_slot + d
    local lock = KEYS[3 * slot - 1]
    if won == '' and redis.call('EXISTS', lock) == 0
        and redis.call('EXISTS', KEYS[3 * slot]) == 1 then
      local cached = redis.call('GET', KEYS[3 * slot + 1])
      if cached and string.match(cached, '^(%u+)') == 'ONLINE' then
        won = ARGV[arg + 2 + d]
        redis.call('SET', lock, trip, 'EX', ttl)
        redis.call('ZREM', KEYS[1], won)
      end
    end
  end
  arg = arg + 2 + count
  first_slot = first_slot + count
  out[t] = won
end
return out
