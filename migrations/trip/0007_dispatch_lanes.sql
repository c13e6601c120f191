-- Two lanes in the dispatch queue. A trip whose last search found nobody
-- and that waits for its timer to search again (`idle_retry`) is picked only
-- after every trip due for a reason: a first search, a freed driver nearby,
-- a younger trip yielding to it, an offer declined or expired. At rush hour
-- hundreds of trips search again on their timers; without lanes a new trip
-- standing next to a free driver waited behind all of them (oldest first).
ALTER TABLE trips ADD COLUMN idle_retry boolean NOT NULL DEFAULT false;

-- A waiting trip is rescheduled every few seconds (next_attempt_at,
-- leased_until, idle_retry, search_radius_km). None of those columns is
-- indexed any more, so each of those updates can be a heap-only (HOT)
-- update: no new entry in any index, above all none in the GiST index of
-- pickups that every freed-driver and queue-ahead probe walks, which
-- otherwise fills with dead entries faster than autovacuum clears them.
-- The pick reads trips_dispatch_queue (every REQUESTED trip, a few thousand
-- at worst) and filters on next_attempt_at. Pages keep 20 % free for those
-- updates.
DROP INDEX trips_due;
ALTER TABLE trips SET (fillfactor = 80);
