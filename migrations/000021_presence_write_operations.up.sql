-- A presence write the API could not make within its request (Graph
-- throttled it) is answered 202 with an operation, carried out by a job
-- when Graph's Retry-After has passed.
ALTER TABLE api_operations DROP CONSTRAINT api_operations_kind_check;
ALTER TABLE api_operations ADD CONSTRAINT api_operations_kind_check CHECK (kind IN ('sync', 'presence_write'));
