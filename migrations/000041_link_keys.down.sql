ALTER TABLE monitors
    DROP COLUMN link_expires_at,
    DROP COLUMN link_key_id;
ALTER TABLE invites DROP COLUMN key_id;
