-- Rich presence: beside availability and activity, Graph's presence has a
-- status message, out-of-office settings and a work location
-- (docs/graph.md#presence). A user's presence and each of their events
-- keep them, so an event carries the state it was published with.
--
-- One jsonb column per property, each holding the property as the event
-- carries it (presence.Rich: {"message": …}, {"isOutOfOffice": …,
-- "message": …}, {"workLocationType": …, "source": …, "placeId": …}), NULL
-- when unknown — every row written before this migration. jsonb rather
-- than a typed column per field: the rules and the change decision read
-- these in Go, nothing filters on them in SQL; each is written and read
-- whole, three values more per row in the one statement that applies a
-- batch, instead of eight; and Microsoft keeps extending them (workLocation
-- is recent, status messages gained expiry times), which then needs no
-- migration. The checks keep each an object; NOT VALID spares the scan of
-- existing rows (NULL in the new columns), which added columns need not.
ALTER TABLE presence
    ADD COLUMN status_message jsonb,
    ADD COLUMN out_of_office  jsonb,
    ADD COLUMN work_location  jsonb,
    ADD CONSTRAINT presence_status_message_object CHECK (jsonb_typeof(status_message) = 'object') NOT VALID,
    ADD CONSTRAINT presence_out_of_office_object CHECK (jsonb_typeof(out_of_office) = 'object') NOT VALID,
    ADD CONSTRAINT presence_work_location_object CHECK (jsonb_typeof(work_location) = 'object') NOT VALID;

ALTER TABLE presence_events
    ADD COLUMN status_message jsonb,
    ADD COLUMN out_of_office  jsonb,
    ADD COLUMN work_location  jsonb,
    ADD CONSTRAINT presence_events_status_message_object CHECK (jsonb_typeof(status_message) = 'object') NOT VALID,
    ADD CONSTRAINT presence_events_out_of_office_object CHECK (jsonb_typeof(out_of_office) = 'object') NOT VALID,
    ADD CONSTRAINT presence_events_work_location_object CHECK (jsonb_typeof(work_location) = 'object') NOT VALID;
