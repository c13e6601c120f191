-- Who cancelled a CANCELLED trip, so a rider's own cancels can be counted:
-- past HAIL_RIDER_CANCEL_LIMIT in 10 minutes, new requests are 429 (API.md,
-- "Abuse limits"), so one rider cannot spam drivers with offers.
ALTER TABLE trips ADD COLUMN cancelled_by text CHECK (cancelled_by IN ('rider', 'driver'));
CREATE INDEX trips_rider_cancels ON trips (rider_id, cancelled_at) WHERE cancelled_by = 'rider';
