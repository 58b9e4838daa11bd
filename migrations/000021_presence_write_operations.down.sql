DELETE FROM api_operations WHERE kind = 'presence_write';
ALTER TABLE api_operations DROP CONSTRAINT api_operations_kind_check;
ALTER TABLE api_operations ADD CONSTRAINT api_operations_kind_check CHECK (kind IN ('sync'));
