-- The listings and lookups stay index scans however many rows there are: a user's deposits, a
-- merchant's withdrawals in one state, and the ops lookup by provider request id.
CREATE INDEX deposits_merchant_user_created ON deposits (merchant_id, user_id, created_at DESC, id DESC);
CREATE INDEX withdrawals_merchant_state_created ON withdrawals (merchant_id, state, created_at DESC, id DESC);
CREATE INDEX withdrawals_provider_request_id ON withdrawals (provider_request_id);
