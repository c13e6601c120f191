-- Driver profiles and status (the record). Positions live only in Redis.
-- Runs with search_path set to the "driver" schema.
CREATE TABLE drivers (
    id              uuid PRIMARY KEY,
    status          text NOT NULL DEFAULT 'OFFLINE' CHECK (status IN ('OFFLINE', 'ONLINE', 'BUSY')),
    -- The trip that claimed this driver; set exactly while BUSY.
    current_trip_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT busy_has_trip CHECK ((status = 'BUSY') = (current_trip_id IS NOT NULL))
);
