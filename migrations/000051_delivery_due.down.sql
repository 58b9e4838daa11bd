DROP INDEX deliveries_due_idx;
