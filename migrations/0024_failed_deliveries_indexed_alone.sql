-- Deliveries by merchant and state: the failed ones, the few an operator looks for, have an index
-- of their own, which a notification enters only when it fails. The index of every delivery by
-- merchant and state is dropped: each notification wrote an entry in it when stored and another
-- when delivered, and the pending and delivered ones are read newest first by merchant from
-- webhook_outbox_merchant.
CREATE INDEX webhook_outbox_failed ON webhook_outbox (merchant_id, created_at DESC) WHERE state = 'failed';
DROP INDEX webhook_outbox_merchant_state;
