-- An account's refused callbacks (rejected, or limited and not asked about), newest first, from an
-- index of their own: they are a few among millions processed, and the listing by outcome walked
-- every callback of the account to find them. A processed or duplicate callback enters no entry.
CREATE INDEX provider_callbacks_refused ON provider_callbacks (account_id, received_at DESC)
    WHERE outcome IN ('rejected', 'limited');
