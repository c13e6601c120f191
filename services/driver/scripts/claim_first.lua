-- Claims drivers for a batch of trips, in the order given: each trip takes
-- the first of its drivers that is present, ONLINE, in the trip's city (by
-- its last ping) and held by nobody (a trip earlier in this call included),
-- so exactly one trip wins a driver and a trip is never beaten to a driver
-- by one behind it.
-- KEYS: per trip, its city's GEO set, then per driver of that trip: claim
--   lock, presence, status cache, last position (in ARGV order)
-- ARGV[1] TTL (s)   ARGV[2] number of trips; then per trip: trip id, city
--   id, number of its drivers, then those driver ids (nearest first)
-- Returns per trip the driver id it holds, or '' for none. A trip that
-- already holds one of its drivers (a retried call) keeps it.
local ttl = ARGV[1]
local trips = tonumber(ARGV[2])
local out = {}
local arg = 3
local key = 1
for t = 1, trips do
  local trip = ARGV[arg]
  local city = ARGV[arg + 1]
  local count = tonumber(ARGV[arg + 2])
  local index = KEYS[key]
  local first = key + 1
  local won = ''
  -- A retried call: the trip keeps what it already holds.
  for d = 0, count - 1 do
    if won == '' and redis.call('GET', KEYS[first + 4 * d]) == trip then
      won = ARGV[arg + 3 + d]
    end
  end
  for d = 0, count - 1 do
    local lock = KEYS[first + 4 * d]
    if won == '' and redis.call('EXISTS', lock) == 0
        and redis.call('EXISTS', KEYS[first + 4 * d + 1]) == 1
        and redis.call('HGET', KEYS[first + 4 * d + 3], 'city') == city then
      local cached = redis.call('GET', KEYS[first + 4 * d + 2])
      if cached and string.match(cached, '^(%u+)') == 'ONLINE' then
        won = ARGV[arg + 3 + d]
        redis.call('SET', lock, trip, 'EX', ttl)
        redis.call('ZREM', index, won)
      end
    end
  end
  arg = arg + 3 + count
  key = first + 4 * count
  out[t] = won
end
return out
