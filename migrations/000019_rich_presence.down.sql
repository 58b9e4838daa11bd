ALTER TABLE presence_events
    DROP COLUMN work_location,
    DROP COLUMN out_of_office,
    DROP COLUMN status_message;

ALTER TABLE presence
    DROP COLUMN work_location,
    DROP COLUMN out_of_office,
    DROP COLUMN status_message;
