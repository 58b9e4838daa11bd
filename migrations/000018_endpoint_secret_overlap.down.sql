ALTER TABLE endpoints DROP COLUMN IF EXISTS description;
ALTER TABLE endpoints DROP CONSTRAINT IF EXISTS endpoints_previous_secret_expiry_check;
ALTER TABLE endpoints DROP COLUMN IF EXISTS previous_signing_secret_expires_at;
