ALTER TABLE endpoints DROP COLUMN IF EXISTS dead_letters_trimmed;
DROP INDEX IF EXISTS deliveries_dead_idx;
