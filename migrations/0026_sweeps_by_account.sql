-- An operator's list of an account's sweeps, newest first, read from an index: there is a sweep
-- for every deposit an account sweeps, and the list sorted them all.
CREATE INDEX sweeps_account_created ON sweeps (account_id, created_at DESC);
