-- Webhook delivery: secret rotation, endpoint disabling (410 Gone), attempt bookkeeping.

ALTER TABLE merchants
    ADD COLUMN previous_webhook_secret     TEXT,
    ADD COLUMN previous_secret_expires_at  TIMESTAMPTZ,
    -- Set when the endpoint answered 410 Gone; deliveries wait until the merchant sets a URL again.
    ADD COLUMN webhook_disabled_at         TIMESTAMPTZ,
    ADD COLUMN webhook_disabled_reason     TEXT;

ALTER TABLE webhook_outbox
    ADD COLUMN last_error  TEXT,
    ADD COLUMN failed_at   TIMESTAMPTZ;

-- Finding the earlier undelivered notifications of an order, to deliver an order's events in order.
CREATE INDEX webhook_outbox_order_pending ON webhook_outbox (order_id, sequence) WHERE state = 'pending';
CREATE INDEX webhook_outbox_merchant_state ON webhook_outbox (merchant_id, state, created_at);
CREATE INDEX webhook_attempts_outbox ON webhook_attempts (outbox_id, id);
