-- Batched matching: a trip whose claim failed because its assigned driver
-- went away is served first in the next batch (after premium trips),
-- before the assignment of the rest. Cleared when it gets an offer.
ALTER TABLE trips ADD COLUMN first_in_line boolean NOT NULL DEFAULT false;
