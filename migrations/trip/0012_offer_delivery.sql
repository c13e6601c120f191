-- Offer delivery (API.md, "Offer delivery"): whether and how an offer
-- reached the driver's phone, and the offers a phone never confirmed.
ALTER TABLE offers DROP CONSTRAINT offers_status_check;
ALTER TABLE offers ADD CONSTRAINT offers_status_check CHECK (
    status IN ('CLAIMING', 'OPEN', 'ACCEPTED', 'DECLINED', 'EXPIRED', 'REVOKED', 'UNREACHABLE'));

-- When the offer opened (created_at is when its claim was noted).
ALTER TABLE offers ADD COLUMN sent_at timestamptz;
-- The first acknowledgement (the app's socket ack) or REST read of it.
ALTER TABLE offers ADD COLUMN delivered_at timestamptz;
ALTER TABLE offers ADD COLUMN delivered_via text CHECK (delivered_via IN ('socket', 'rest'));
-- The driver's last socket dropped while the offer was open; cleared when
-- one comes back. Past the reconnect grace the offer is unreachable.
ALTER TABLE offers ADD COLUMN socket_lost_at timestamptz;
-- The newest "socket back" heard, so a late "lost" from another gateway
-- never undoes a newer reconnect.
ALTER TABLE offers ADD COLUMN socket_back_at timestamptz;

-- A driver's day of offers (support's dispatch history) is one range scan;
-- a driver's open offer (their socket dropped or came back) one lookup.
CREATE INDEX offers_by_driver_time ON offers (driver_id, created_at);
CREATE INDEX offers_open_by_driver ON offers (driver_id) WHERE status = 'OPEN';
