-- A monitor's token refresh is claimed, not row-locked (issue 15): the identity platform may take
-- 30 s to answer, and a row lock held across the call kept a pooled connection idle in a
-- transaction and blocked everyone writing the row (a new sign-in among them). A short transaction
-- sets refresh_claimed_until; the call runs outside any transaction; its result is stored only
-- while the claim still holds the row. Another instance that finds a live claim waits for the
-- result instead of redeeming the same refresh token. NULL: nobody is refreshing.
ALTER TABLE monitors ADD COLUMN refresh_claimed_until timestamptz;
