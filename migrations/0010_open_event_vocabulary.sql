-- Events other than merchant orders are stored too: address changes, balances, movements of the
-- account's own funds, notices. And a withdrawal keeps whether its provider waits for our second
-- confirmation before it pays.
ALTER TABLE provider_events DROP CONSTRAINT provider_events_order_kind_check;
ALTER TABLE provider_events ADD CONSTRAINT provider_events_order_kind_check
    CHECK (order_kind IN ('deposit', 'withdrawal', 'address', 'balance', 'treasury', 'notice'));
ALTER TABLE withdrawals ADD COLUMN provider_awaits_approval BOOLEAN NOT NULL DEFAULT FALSE;
