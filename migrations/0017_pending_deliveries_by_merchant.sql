-- Due deliveries are found through the merchants that can receive them: notifications of a merchant
-- with no endpoint (or a disabled one) pile up pending, and must not be scanned at every claim.
CREATE INDEX webhook_outbox_pending_by_merchant ON webhook_outbox (merchant_id, next_attempt_at)
    WHERE state = 'pending';
