-- A third lane, and who a younger trip yields a driver to.
--
-- `searched`: the trip has had its first search. Until then it is in the
-- fresh lane, which a pass takes before every other: at rush hour hundreds
-- of older trips are due again in one part of the city (their offers ran
-- out, freed drivers woke them), and oldest first a new request next to a
-- free driver elsewhere waited behind all of them. Its claim still yields
-- to an older trip that wants the same driver. The lane has its own small
-- index, so picking it reads the fresh trips only, never the queue; the
-- flag changes once per trip (one non-HOT update).
--
-- `starved`: the trip's last search got it no driver (nobody free in
-- reach, or its drivers went to trips ahead of it). Only such a trip holds
-- a younger trip's candidate back. A trip that has not searched since its
-- last offer ended searches in the next pass and claims there in queue
-- order; holding every younger trip near it back meanwhile made a new
-- request wait seconds beside free drivers in a busy area.
ALTER TABLE trips ADD COLUMN searched boolean NOT NULL DEFAULT false,
                  ADD COLUMN starved boolean NOT NULL DEFAULT false;
CREATE INDEX trips_fresh ON trips ((tier = 'premium') DESC, created_at)
    WHERE status = 'REQUESTED' AND NOT searched;
