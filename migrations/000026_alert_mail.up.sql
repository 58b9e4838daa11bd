-- Alerts by e-mail (internal/alertmail). An alert's mails are stamped on
-- its row in the transaction that records them in mail_log, under the
-- row's lock, so that of any number of workers one sends each mail:
-- notified_at (from 000008, unused until now) is when the last opening
-- mail or reminder went; resolved_notified_at when the "resolved" mail
-- went (sent only if an opening mail was). superseded marks an alert
-- resolved because a graver stage of the same condition replaced it (a
-- client secret's 30-day warning when its 7-day one opens): it gets no
-- "resolved" mail, since nothing was resolved.
ALTER TABLE alerts
    ADD COLUMN mails_sent           int NOT NULL DEFAULT 0,
    ADD COLUMN resolved_notified_at timestamptz,
    ADD COLUMN superseded           boolean NOT NULL DEFAULT false;

-- The resolved alerts still owed a "resolved" mail (open ones are found
-- through alerts_open_idx).
CREATE INDEX alerts_resolved_unmailed_idx ON alerts (resolved_at)
    WHERE resolved_at IS NOT NULL AND notified_at IS NOT NULL AND resolved_notified_at IS NULL AND NOT superseded;

-- Every mail sent, for support: to whom, about what, when. The body is
-- kept too, so support reads what the customer read.
CREATE TABLE mail_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid REFERENCES tenants (id) ON DELETE CASCADE,
    alert_id   bigint REFERENCES alerts (id) ON DELETE SET NULL,
    reason     text NOT NULL, -- opened, reminder, resolved
    recipients text[] NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    sent_at    timestamptz NOT NULL
);
CREATE INDEX mail_log_tenant_idx ON mail_log (tenant_id, sent_at DESC);

-- Development's outbox: with no SMTP server configured outside production,
-- mail is kept here instead of sent, and `presencebridge dev` lists it on
-- a page. In the database rather than in memory so that every instance's
-- page shows what any instance sent.
CREATE TABLE captured_mail (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender      text NOT NULL,
    recipients  text[] NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    captured_at timestamptz NOT NULL DEFAULT now()
);
