DROP INDEX tenants_name_idx;
DELETE FROM secrets WHERE purpose = 'staff-totp-secret';
UPDATE staff SET role = 'support' WHERE role = 'viewer';
ALTER TABLE staff
    DROP COLUMN created_by,
    DROP COLUMN last_signin_at,
    DROP COLUMN locked_until,
    DROP COLUMN failed_signins,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_secret_id,
    DROP COLUMN password_hash,
    DROP CONSTRAINT staff_role_check,
    ADD CONSTRAINT staff_role_check CHECK (role IN ('support', 'admin'));
