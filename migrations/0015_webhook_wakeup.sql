-- Each transaction that queues notifications wakes the delivery workers when it commits (NOTIFY is
-- delivered at commit, and repeats within one transaction fold into one). Workers still poll, so
-- a wake-up that is lost (a listener reconnecting) only delays a delivery.
CREATE FUNCTION notify_webhook_outbox() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('custody_webhook_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhook_outbox_wake AFTER INSERT ON webhook_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_outbox();
