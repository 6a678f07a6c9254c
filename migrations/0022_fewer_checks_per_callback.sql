-- A stored callback writes its raw call, its event, its deposit, two transitions and two
-- notifications, and each foreign key re-reads (and share-locks) the row it points to for every
-- row written: seven look-ups per callback, about a third of the database's work on ingest, and
-- every concurrent group share-locked the same merchant row. Nothing is ever deleted from these
-- tables, and the links below are made in one statement from the ids it has just written.

-- A deposit's address and merchant are checked together, by one look-up that also proves the
-- address is the merchant's own (stronger than the two separate keys it replaces).
ALTER TABLE addresses ADD CONSTRAINT addresses_id_merchant_unique UNIQUE (id, merchant_id);
ALTER TABLE deposits
    DROP CONSTRAINT deposits_merchant_id_fkey,
    DROP CONSTRAINT deposits_address_id_fkey,
    ADD CONSTRAINT deposits_address_merchant_fkey FOREIGN KEY (address_id, merchant_id)
        REFERENCES addresses (id, merchant_id) NOT VALID;
ALTER TABLE deposits VALIDATE CONSTRAINT deposits_address_merchant_fkey;

-- Written in the same statement as the row they point to (as order_transitions.order_id and
-- provider_events.order_id always were).
ALTER TABLE provider_events DROP CONSTRAINT provider_events_callback_id_fkey;
ALTER TABLE order_transitions DROP CONSTRAINT order_transitions_event_id_fkey;

-- A notification is written with the merchant of the order or notice it announces.
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_merchant_id_fkey;
