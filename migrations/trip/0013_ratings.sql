-- A rider's rating of a completed trip (API.md: `POST /trips/{id}/rating`),
-- once: the trip row holds it, so reading a trip reads its rating.
ALTER TABLE trips ADD COLUMN rating_stars smallint CHECK (rating_stars BETWEEN 1 AND 5);
ALTER TABLE trips ADD COLUMN rating_comment text;
ALTER TABLE trips ADD COLUMN rated_at timestamptz;
