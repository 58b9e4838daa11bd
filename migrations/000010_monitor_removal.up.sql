-- A monitor removed while it holds a Graph subscription is only marked:
-- the engine deletes the subscription with the monitor's still valid
-- token, then the monitor row and its sealed tokens go.
ALTER TABLE monitors ADD COLUMN removed_at timestamptz;
