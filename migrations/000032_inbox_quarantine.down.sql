INSERT INTO inbox (id, received_at, kind, payload, items) OVERRIDING SYSTEM VALUE
    SELECT id, received_at, kind, payload, items FROM inbox_quarantine ON CONFLICT (id) DO NOTHING;
DROP TABLE IF EXISTS inbox_quarantine;
ALTER TABLE inbox DROP COLUMN IF EXISTS retry_at;
ALTER TABLE inbox DROP COLUMN IF EXISTS last_error;
ALTER TABLE inbox DROP COLUMN IF EXISTS attempts;
