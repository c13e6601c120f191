-- What riders see of a driver (API.md, "Drivers"): the name given at
-- registration (the user service sends it with the profile) and the vehicle
-- the driver sets with PUT /drivers/me/vehicle. Profiles from before this
-- migration have no name until the driver registers again; riders then see
-- "Your driver".
ALTER TABLE drivers ADD COLUMN name text;
ALTER TABLE drivers ADD COLUMN vehicle jsonb;

-- The pings of drivers on a trip, so the trip service can price a trip by
-- the distance actually driven (API.md, "Trips": `fare.final`). Only pings
-- of a driver on a ride are kept; a free driver's pings stay in Redis.
CREATE TABLE ride_points (
    trip_id uuid NOT NULL,
    at      timestamptz NOT NULL,
    lat     double precision NOT NULL,
    lng     double precision NOT NULL
);
CREATE INDEX ride_points_by_trip ON ride_points (trip_id, at);
