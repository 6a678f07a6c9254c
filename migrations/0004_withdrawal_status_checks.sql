-- When the pollers last asked the provider for a withdrawal's status, so that every open withdrawal
-- is reconciled in turn even when its callbacks are lost.
ALTER TABLE withdrawals ADD COLUMN status_checked_at TIMESTAMPTZ;
CREATE INDEX withdrawals_open_by_account ON withdrawals (account_id, status_checked_at NULLS FIRST)
    WHERE state IN ('submitted', 'approved', 'broadcast');
-- The merchant's withdrawal listing, newest first.
CREATE INDEX withdrawals_merchant_created ON withdrawals (merchant_id, created_at DESC, id DESC);
