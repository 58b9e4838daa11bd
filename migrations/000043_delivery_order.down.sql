ALTER TABLE deliveries DROP COLUMN order_check;
DROP TABLE endpoint_retry_after;
