-- Accounts. Runs with search_path set to the "user" schema.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    role          text NOT NULL CHECK (role IN ('rider', 'driver')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique case-insensitively; the index is the arbiter under
-- concurrent registrations, not a read-then-write in the service.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
