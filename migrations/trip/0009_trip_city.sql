-- Cities (API.md, "Cities"): every trip belongs to the city its pickup lies
-- in. Trips from before cities were all in the one built-in city, `sg`.
ALTER TABLE trips ADD COLUMN city text NOT NULL DEFAULT 'sg';
ALTER TABLE trips ALTER COLUMN city DROP DEFAULT;
