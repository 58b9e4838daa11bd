-- Webhook endpoints managed through the API (issue 12).

-- A rotated-out signing secret signs beside the new one until
-- previous_signing_secret_expires_at (the overlap the rotation asked for),
-- so a receiver can switch secrets without losing a delivery; after it the
-- deliverer signs with the current secret only. Rows that already have a
-- previous secret (none is set by the product before this migration) keep
-- it for a day.
ALTER TABLE endpoints ADD COLUMN previous_signing_secret_expires_at timestamptz;
UPDATE endpoints SET previous_signing_secret_expires_at = now() + interval '1 day'
    WHERE previous_signing_secret_id IS NOT NULL;
ALTER TABLE endpoints ADD CONSTRAINT endpoints_previous_secret_expiry_check
    CHECK ((previous_signing_secret_id IS NULL) = (previous_signing_secret_expires_at IS NULL));

-- What the endpoint is for, as the tenant describes it.
ALTER TABLE endpoints ADD COLUMN description text NOT NULL DEFAULT '';

