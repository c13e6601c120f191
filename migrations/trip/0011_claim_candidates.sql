-- Every driver a CLAIMING row's claim may have taken. The claim call gives
-- the trip the first of its drivers still free, which may not be the one
-- noted; a worker that dies before correcting the note left a lock on a
-- driver the row does not name, and the next worker (releasing only the
-- named one) could not see that driver until the lock ran out. Settling a
-- dead claim now releases each of these (compare-and-delete: only a lock
-- this trip holds is dropped).
ALTER TABLE offers ADD COLUMN claim_candidates uuid[] NOT NULL DEFAULT '{}';
