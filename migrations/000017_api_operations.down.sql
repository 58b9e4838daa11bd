DROP TABLE IF EXISTS api_operations;
