-- Inbox poison (issue 15). A row the processor fails on is tried again
-- after a wait that doubles each time (retry_at; the claim skips it till
-- then, so the rows behind it go on), with its attempts and last error
-- counted here; after intake.MaxAttempts it moves to inbox_quarantine.
ALTER TABLE inbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_error text;
ALTER TABLE inbox ADD COLUMN retry_at timestamptz;

-- What the processor could not or would not apply, kept whole so that
-- support can see what Graph sent, until someone replays it (back to the
-- inbox, under its own id and receipt time) or the clean-up deletes it
-- with the history of its time. reason: failed (every attempt),
-- bad_validation_token (nothing in the POST can be trusted), unreadable
-- (no notification collection). Not tenant-scoped: one POST may carry
-- items of several tenants.
CREATE TABLE inbox_quarantine (
    id             bigint PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    kind           text NOT NULL,
    payload        jsonb NOT NULL,
    items          integer NOT NULL,
    attempts       integer NOT NULL,
    reason         text NOT NULL,
    error          text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
