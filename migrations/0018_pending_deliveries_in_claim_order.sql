-- Due deliveries are claimed in (next_attempt_at, sequence) order; with `sequence` in the index the
-- claim reads only the rows it takes, not every due row of the merchant to sort them (deliveries
-- queued in one transaction share their next_attempt_at).
DROP INDEX webhook_outbox_pending_by_merchant;
CREATE INDEX webhook_outbox_pending_by_merchant ON webhook_outbox (merchant_id, next_attempt_at, sequence)
    WHERE state = 'pending';
