-- Dispatch: offers, the audit trail, the outbox and idempotency keys.

-- How far the next search looks; widened after each empty search.
ALTER TABLE trips ADD COLUMN search_radius_km double precision NOT NULL DEFAULT 3;

-- One row per driver a trip was offered to (or claimed for, in auto mode).
-- CLAIMING is written before the claim, so a worker that dies between claim
-- and offer leaves a trace the next worker cleans up.
CREATE TABLE offers (
    id          uuid PRIMARY KEY,
    trip_id     uuid NOT NULL REFERENCES trips (id),
    driver_id   uuid NOT NULL,
    status      text NOT NULL
                CHECK (status IN ('CLAIMING', 'OPEN', 'ACCEPTED', 'DECLINED', 'EXPIRED', 'REVOKED')),
    distance_km double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    answered_at timestamptz
);
-- At most one live offer per trip.
CREATE UNIQUE INDEX offers_one_live_per_trip ON offers (trip_id) WHERE status IN ('CLAIMING', 'OPEN');
CREATE INDEX offers_by_trip_driver ON offers (trip_id, driver_id);

CREATE TABLE dispatch_events (
    seq       bigserial PRIMARY KEY,
    trip_id   uuid NOT NULL REFERENCES trips (id),
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    type      text NOT NULL,
    driver_id uuid,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX dispatch_events_by_trip ON dispatch_events (trip_id, seq);

-- Events written in the same transaction as the change they describe; a relay
-- publishes them to Redis and marks them sent.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    channel      text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE idempotency_keys (
    rider_id   uuid NOT NULL,
    key        text NOT NULL,
    body_hash  text NOT NULL,
    trip_id    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rider_id, key)
);
