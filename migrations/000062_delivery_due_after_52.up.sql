-- 000051 (deliveries_due_idx, the delivery claim's first look) was
-- committed nine minutes after 000052, on 2026-12-02. golang-migrate
-- applies only the versions above a database's own, so a database
-- migrated to 52 in between never ran 51, and every claim since has
-- looked for due deliveries without the index written for it. It is made
-- here if it is missing, spelled exactly as 51 spells it: only a claim
-- spelled the same way can use it (see 51).
CREATE INDEX IF NOT EXISTS deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending' AND attempts >= 0;
