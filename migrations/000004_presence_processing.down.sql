DROP TABLE IF EXISTS subscription_events, presence_resync;
ALTER TABLE presence
    DROP COLUMN mapped_state,
    DROP COLUMN graph_sequence;
