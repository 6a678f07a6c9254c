-- A NOTIFY in every transaction that queues notifications serialises those commits on
-- PostgreSQL's notification lock. The gateway wakes its own workers after committing and tells
-- other instances with one NOTIFY for each few milliseconds of commits instead.
DROP TRIGGER webhook_outbox_wake ON webhook_outbox;
DROP FUNCTION notify_webhook_outbox();
