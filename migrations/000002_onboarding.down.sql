ALTER TABLE monitors
    DROP COLUMN link_generation,
    DROP COLUMN access_token_secret_id,
    DROP COLUMN authorized_at,
    DROP COLUMN auth_method,
    DROP COLUMN display_name;
DROP TABLE IF EXISTS invites;
ALTER TABLE tenants
    DROP COLUMN allow_password_signin,
    DROP COLUMN admin_email;
