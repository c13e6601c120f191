-- Trips (the dispatch queue is this table). Runs with search_path set to the
-- "trip" schema.
CREATE TABLE trips (
    id              uuid PRIMARY KEY,
    rider_id        uuid NOT NULL,
    driver_id       uuid,
    status          text NOT NULL DEFAULT 'REQUESTED'
                    CHECK (status IN ('REQUESTED', 'ASSIGNED', 'ONGOING', 'COMPLETED', 'CANCELLED', 'NO_DRIVER')),
    tier            text NOT NULL DEFAULT 'standard' CHECK (tier IN ('standard', 'premium')),
    pickup_lat      double precision NOT NULL,
    pickup_lng      double precision NOT NULL,
    dropoff_lat     double precision NOT NULL,
    dropoff_lng     double precision NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    assigned_at     timestamptz,
    started_at      timestamptz,
    completed_at    timestamptz,
    cancelled_at    timestamptz,
    cancel_reason   text,
    -- Dispatch bookkeeping: when a worker may next pick this trip up.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT driver_matches_status CHECK (
        (status IN ('ASSIGNED', 'ONGOING', 'COMPLETED')) = (driver_id IS NOT NULL)
        OR status = 'CANCELLED'
    )
);

-- A rider has at most one active trip; a driver at most one assigned or ongoing.
CREATE UNIQUE INDEX trips_one_active_per_rider ON trips (rider_id)
    WHERE status IN ('REQUESTED', 'ASSIGNED', 'ONGOING');
CREATE UNIQUE INDEX trips_one_active_per_driver ON trips (driver_id)
    WHERE status IN ('ASSIGNED', 'ONGOING');
CREATE INDEX trips_by_rider ON trips (rider_id, created_at DESC);
CREATE INDEX trips_by_driver ON trips (driver_id, created_at DESC) WHERE driver_id IS NOT NULL;
-- The dispatch queue: premium first, then oldest.
CREATE INDEX trips_dispatch_queue ON trips ((tier = 'premium') DESC, created_at)
    WHERE status = 'REQUESTED';
