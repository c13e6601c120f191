-- A claim runs out at claim_expires_at unless its trip confirms it (the
-- driver accepted, or was auto-assigned): then it is NULL. A BUSY driver
-- past it is asked about: the trip service says whether the trip still
-- holds the driver, and a claim it does not know (a lost release, a claim
-- naming no trip it dispatches) is released, so nothing can leave a driver
-- BUSY past its claim's TTL.
ALTER TABLE drivers ADD COLUMN claim_expires_at timestamptz;
CREATE INDEX drivers_unconfirmed_claims ON drivers (claim_expires_at)
    WHERE status = 'BUSY' AND claim_expires_at IS NOT NULL;
