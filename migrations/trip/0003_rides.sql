-- Carpool rides: a rider's confirmed seat in a driver's car for one room's
-- departure. The room itself lives in Redis and is dropped after its slot;
-- its rides stay here.
CREATE TABLE rides (
    id           uuid PRIMARY KEY,
    room_key     text NOT NULL,
    departs_at   timestamptz NOT NULL,
    rider_id     uuid NOT NULL,
    driver_id    uuid NOT NULL,
    status       text NOT NULL CHECK (status IN ('CONFIRMED', 'CANCELLED')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    cancelled_by uuid
);
CREATE INDEX rides_by_rider ON rides (rider_id, departs_at DESC);
CREATE INDEX rides_by_driver ON rides (driver_id, departs_at DESC);
