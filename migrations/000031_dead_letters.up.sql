-- Dead letters are kept until someone replays or drops them (issue 15):
-- deliveries made while their endpoint is disabled are queued dead, never
-- tried, instead of not at all, and the clean-up of old history keeps an
-- event while a delivery of it is dead.

-- An endpoint's dead letters by user, in event order: what their counts,
-- an explicit drop, the bound on how many are kept per user and the
-- clean-up's "is a delivery of this event dead?" read. Empty while every
-- endpoint is enabled and answering, so it costs nothing then.
CREATE INDEX deliveries_dead_idx ON deliveries (endpoint_id, user_object_id, event_id) WHERE status = 'dead';

-- How many dead letters of the endpoint the bound on those kept per user
-- has deleted (a user's oldest, never the newest), so that people can be
-- told what a replay can no longer bring.
ALTER TABLE endpoints ADD COLUMN dead_letters_trimmed bigint NOT NULL DEFAULT 0;
