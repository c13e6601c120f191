-- Rush hour (session 14): the two neighbourhood probes (which waiting trip
-- wants this candidate, which waiting trips does this freed driver wake)
-- only ever want starved trips: waiting, with no offer, whose last search
-- found nobody. The index holds just those, so a probe near no starved
-- trip (a quiet part of the city, while another part queues) reads
-- nothing, and one in a crowd reads only the crowd that waits. Replaces
-- trips_waiting_pickup, which every REQUESTED trip was in (with an open
-- offer, or before its first search), so each of those probes read 64 of
-- them for nothing (25-30 ms a call with 1,400 trips waiting).
CREATE INDEX trips_starved_pickup ON trips USING gist (point(pickup_lng, pickup_lat))
    WHERE status = 'REQUESTED' AND starved;
DROP INDEX trips_waiting_pickup;
