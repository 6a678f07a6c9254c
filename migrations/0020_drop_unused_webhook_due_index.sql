-- Claims read due deliveries by merchant (webhook_outbox_pending_by_merchant); nothing reads the
-- pending rows by next_attempt_at alone any more, and every notification paid for this index.
DROP INDEX webhook_outbox_due;
