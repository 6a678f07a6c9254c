-- A withdrawal the provider holds back for now (its hot wallet or gas is short) keeps why and since
-- when, until it moves on.
ALTER TABLE withdrawals
    ADD COLUMN delay_reason TEXT,
    ADD COLUMN delay_since  TIMESTAMPTZ;

-- Deposits keep the risk scores a provider reports, and a deposit held at risk waits for an
-- operator before it is credited.
ALTER TABLE deposits
    ADD COLUMN risk_source_score SMALLINT,
    ADD COLUMN risk_target_score SMALLINT,
    ADD COLUMN hold_reason       TEXT;

-- A user's address can be replaced by the provider: the old one is kept, retired, so that deposits
-- to it are still the user's; one current address per user, account and chain.
ALTER TABLE addresses ADD COLUMN retired_at TIMESTAMPTZ;
ALTER TABLE addresses DROP CONSTRAINT addresses_user_account_chain_unique;
CREATE UNIQUE INDEX addresses_user_account_chain_current
    ON addresses (merchant_id, user_id, account_id, chain) WHERE retired_at IS NULL;

-- Why a transition happened, when a person decided it (an operator releasing a held deposit).
ALTER TABLE order_transitions ADD COLUMN reason TEXT;
