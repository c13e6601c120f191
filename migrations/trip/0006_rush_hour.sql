-- Rush hour: a freed driver wakes only the waiting trips near it, and the
-- hot tables stay lean under thousands of row changes a minute.

-- Waiting trips by pickup point. "Which waiting trips are near this freed
-- driver / this candidate?" reads one neighbourhood (a box), never the whole
-- queue. Point is (lng, lat), so the box is too.
CREATE INDEX trips_waiting_pickup ON trips USING gist (point(pickup_lng, pickup_lat))
    WHERE status = 'REQUESTED';

-- The outbox relay now deletes what it published (one insert and one delete
-- per event, and a table that stays as small as its backlog); sent rows from
-- before go now.
DELETE FROM outbox WHERE published_at IS NOT NULL;

-- Hot tables are vacuumed and analysed after a few percent of their rows
-- change, not the default 20 %: a trip is updated a handful of times in a
-- minute, offers churn every few seconds, the outbox turns over constantly.
-- Dead rows then never pile up between vacuums, and the planner's
-- statistics follow the queue as it grows and drains.
ALTER TABLE trips SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE offers SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000,
                        autovacuum_vacuum_insert_scale_factor = 0.0, autovacuum_vacuum_insert_threshold = 1000);
ALTER TABLE dispatch_events SET (autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);
