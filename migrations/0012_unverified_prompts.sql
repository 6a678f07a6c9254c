-- A callback whose signature could not be checked is only a prompt to ask the provider; past the
-- account's limit it is not asked about, and kept as `limited`.
ALTER TABLE provider_callbacks DROP CONSTRAINT provider_callbacks_outcome_check;
ALTER TABLE provider_callbacks ADD CONSTRAINT provider_callbacks_outcome_check
    CHECK (outcome IN ('processed', 'duplicate', 'rejected', 'limited'));
CREATE INDEX provider_callbacks_unverified ON provider_callbacks (account_id, received_at DESC)
    WHERE NOT verified;
