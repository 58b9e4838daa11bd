ALTER TABLE monitors DROP COLUMN refresh_claimed_until;
