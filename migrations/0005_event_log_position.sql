-- A gap-free order for the event log (/v1/events). created_at is a transaction's start, and
-- transactions commit out of order, so a cursor over it could pass an event still to commit. Each
-- event now records its writing transaction (tx_id); the log lists only events of transactions older
-- than every transaction still running, in (tx_id, log_position) order, so nothing can appear behind
-- a cursor later.
CREATE SEQUENCE webhook_outbox_log_position_seq;
ALTER TABLE webhook_outbox
    ADD COLUMN log_position BIGINT,
    ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
UPDATE webhook_outbox o SET log_position = n.pos
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS pos FROM webhook_outbox) n
WHERE o.id = n.id;
SELECT setval('webhook_outbox_log_position_seq',
              COALESCE((SELECT max(log_position) FROM webhook_outbox), 0) + 1, false);
ALTER TABLE webhook_outbox
    ALTER COLUMN log_position SET DEFAULT nextval('webhook_outbox_log_position_seq'),
    ALTER COLUMN log_position SET NOT NULL;
ALTER SEQUENCE webhook_outbox_log_position_seq OWNED BY webhook_outbox.log_position;
CREATE INDEX webhook_outbox_log ON webhook_outbox (merchant_id, tx_id, log_position);
