DROP TABLE endpoint_retry_after;
