-- Links (internal/links) are signed under a seal key's sub-key and stop
-- opening when that key leaves the ring. Each link handed out records the
-- key it was made under, so that `presencebridge keys rotate` can say which
-- keys live links still need and until when: an invitation's row has its
-- expiry already; a monitor holds one Copy URL at a time (a new one
-- withdraws the earlier ones), whose key and expiry it keeps.
ALTER TABLE invites ADD COLUMN key_id text;
ALTER TABLE monitors
    ADD COLUMN link_key_id     text,
    ADD COLUMN link_expires_at timestamptz;

-- Links made before this: their key is unknown (NULL), so rotate keeps every
-- key until they expire. Invitations have their expiry; a Copy URL's is the
-- 72 hours after its audit entry, unless the monitor signed in since, which
-- withdrew it.
UPDATE monitors m SET link_expires_at = l.made + interval '72 hours'
FROM (SELECT detail->>'monitor' AS monitor, max(at) AS made FROM audit_log
      WHERE action = 'monitor.link_created' AND at > now() - interval '72 hours' GROUP BY 1) l
WHERE m.id::text = l.monitor AND (m.authorized_at IS NULL OR m.authorized_at < l.made);
