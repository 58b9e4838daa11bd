DROP INDEX presence_events_user_idx;
