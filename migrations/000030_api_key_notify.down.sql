DROP TRIGGER IF EXISTS tenants_notify_api_keys_delete ON tenants;
DROP TRIGGER IF EXISTS tenants_notify_api_keys ON tenants;
DROP FUNCTION IF EXISTS tenants_notify_api_keys();
DROP TRIGGER IF EXISTS api_keys_notify_delete ON api_keys;
DROP TRIGGER IF EXISTS api_keys_notify ON api_keys;
DROP FUNCTION IF EXISTS api_keys_notify();
