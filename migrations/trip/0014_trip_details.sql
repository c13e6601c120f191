-- The trip a rider expects (API.md, "Trips"): ARRIVED between ASSIGNED and
-- ONGOING, who is coming (a snapshot of the driver's card at assignment),
-- what it costs (the estimate fixed at request time, the final fare at
-- COMPLETED, exact integers in hundredths of the currency's major unit), and
-- the pickup PIN.
ALTER TABLE trips DROP CONSTRAINT trips_status_check;
ALTER TABLE trips ADD CONSTRAINT trips_status_check CHECK (
    status IN ('REQUESTED', 'ASSIGNED', 'ARRIVED', 'ONGOING', 'COMPLETED', 'CANCELLED', 'NO_DRIVER'));
ALTER TABLE trips DROP CONSTRAINT driver_matches_status;
ALTER TABLE trips ADD CONSTRAINT driver_matches_status CHECK (
    (status IN ('ASSIGNED', 'ARRIVED', 'ONGOING', 'COMPLETED')) = (driver_id IS NOT NULL)
    OR status = 'CANCELLED');
DROP INDEX trips_one_active_per_rider;
CREATE UNIQUE INDEX trips_one_active_per_rider ON trips (rider_id)
    WHERE status IN ('REQUESTED', 'ASSIGNED', 'ARRIVED', 'ONGOING');
DROP INDEX trips_one_active_per_driver;
CREATE UNIQUE INDEX trips_one_active_per_driver ON trips (driver_id)
    WHERE status IN ('ASSIGNED', 'ARRIVED', 'ONGOING');

ALTER TABLE trips ADD COLUMN arrived_at timestamptz;

-- The driver's card as the rider saw it when the driver was assigned.
ALTER TABLE trips ADD COLUMN driver_name text;
ALTER TABLE trips ADD COLUMN driver_vehicle jsonb;
ALTER TABLE trips ADD COLUMN driver_rating_sum bigint;
ALTER TABLE trips ADD COLUMN driver_rating_count bigint;

-- Money in hundredths of the major unit. Trips from before fares get the
-- built-in city's currency and a zero estimate.
ALTER TABLE trips ADD COLUMN currency text NOT NULL DEFAULT 'SGD';
ALTER TABLE trips ALTER COLUMN currency DROP DEFAULT;
ALTER TABLE trips ADD COLUMN fare_estimate bigint NOT NULL DEFAULT 0;
ALTER TABLE trips ALTER COLUMN fare_estimate DROP DEFAULT;
ALTER TABLE trips ADD COLUMN estimate_distance_km double precision NOT NULL DEFAULT 0;
ALTER TABLE trips ALTER COLUMN estimate_distance_km DROP DEFAULT;
ALTER TABLE trips ADD COLUMN estimate_duration_secs bigint NOT NULL DEFAULT 0;
ALTER TABLE trips ALTER COLUMN estimate_duration_secs DROP DEFAULT;
ALTER TABLE trips ADD COLUMN fare_final bigint;
ALTER TABLE trips ADD COLUMN distance_km double precision;
ALTER TABLE trips ADD COLUMN duration_secs bigint;

-- The pickup PIN (only when the city asks for one) and the wrong tries.
ALTER TABLE trips ADD COLUMN pickup_pin text CHECK (pickup_pin ~ '^[0-9]{4}$');
ALTER TABLE trips ADD COLUMN pin_attempts smallint NOT NULL DEFAULT 0;

-- Each driver's ratings, summed as riders rate (one row per driver, updated
-- in the rating's own transaction), so showing a driver's average costs one
-- row whatever the number of trips.
CREATE TABLE driver_ratings (
    driver_id uuid PRIMARY KEY,
    stars_sum bigint NOT NULL,
    count     bigint NOT NULL
);
