-- The inbox keeps a POST's payload as text, not jsonb. Nothing in SQL
-- reads into it: the receiver writes the JSON it has just parsed and
-- checked, and the processor reads it back whole and parses it again. As
-- jsonb, PostgreSQL parsed every payload on the insert (in the receiver's
-- group commit, before Graph's 202) and printed it back to text on every
-- claim, about 28 KB for a POST of 11 rich items and a megabyte at
-- 5,000 changes a second: work for a check the receiver had made and a
-- form nobody used. What text still checks is the encoding (UTF-8), as
-- jsonb did. The quarantine keeps the same text, so that a row moves
-- between the two as it is and support reads what Graph sent.
--
-- Measured (2026-12-05, 2 cores, before → after, two runs each): the
-- backend's CPU to insert a POST of 11 items 385–389 → 212–238 µs
-- (BenchmarkInsertingAnEncryptedPOST) and to claim it 244–252 → 173–176
-- µs (BenchmarkClaimingAnEncryptedPOST); intake of 50-item POSTs
-- 35,155 → 47,586–52,298 items/s (BenchmarkIntakeThroughput).
ALTER TABLE inbox ALTER COLUMN payload TYPE text USING payload::text;
-- A change of type gives the column its new type's storage: still
-- out of line and uncompressed (000058).
ALTER TABLE inbox ALTER COLUMN payload SET STORAGE EXTERNAL;
ALTER TABLE inbox_quarantine ALTER COLUMN payload TYPE text USING payload::text;
