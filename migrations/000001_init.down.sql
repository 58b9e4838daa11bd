DROP TABLE IF EXISTS audit_log, sessions, staff, api_keys, mapping_rules, deliveries, endpoints,
    presence_events, presence, inbox, subscriptions, directory_users, monitors, onboarding,
    tenant_apps, secrets, tenants;
