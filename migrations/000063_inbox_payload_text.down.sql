ALTER TABLE inbox_quarantine ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
ALTER TABLE inbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
ALTER TABLE inbox ALTER COLUMN payload SET STORAGE EXTERNAL;
