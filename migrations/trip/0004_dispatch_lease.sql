-- A matcher pass leases the trips it picks until it has claimed, opened the
-- offer or scheduled the next search (or until the lease runs out, when the
-- worker died). Kept apart from next_attempt_at, so waking waiting trips
-- (a driver became free) can never hand a trip that is mid-pass to a second
-- pass.
ALTER TABLE trips ADD COLUMN leased_until timestamptz;

-- REQUESTED trips by when they are next due. A trip waiting for a driver
-- (no offer, not leased) is always due within a retry step, so "is anyone
-- waiting?" reads only the trips due soon, not every trip whose offer is
-- still open.
CREATE INDEX trips_due ON trips (next_attempt_at) WHERE status = 'REQUESTED';
