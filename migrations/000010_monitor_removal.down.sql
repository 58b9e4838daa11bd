ALTER TABLE monitors DROP COLUMN removed_at;
