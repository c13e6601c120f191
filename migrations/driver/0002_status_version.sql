-- Every status change bumps the version; Redis mirrors status with it, so
-- concurrent changes converge on the newest (see scripts/set_status.lua).
ALTER TABLE drivers ADD COLUMN version bigint NOT NULL DEFAULT 1;
