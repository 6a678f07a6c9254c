-- Providers that pay out only from a wallet of the account's own (UBAO's collection wallet): one
-- per account and chain, made on first need.
CREATE TABLE collection_wallets (
    account_id  TEXT NOT NULL,
    chain       TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, chain)
);

-- When a confirmed deposit of at least `min_amount` should be swept into the collection wallet;
-- written from the configuration at start.
CREATE TABLE sweep_policies (
    account_id  TEXT NOT NULL,
    chain       TEXT NOT NULL,
    asset       TEXT NOT NULL,
    min_amount  NUMERIC NOT NULL CHECK (min_amount >= 0),
    PRIMARY KEY (account_id, chain, asset)
);

-- One sweep per deposit that called for it (or per operator request), asked of the provider by
-- whichever instance claims it first.
CREATE TABLE sweeps (
    id              UUID PRIMARY KEY,
    account_id      TEXT NOT NULL,
    chain           TEXT NOT NULL,
    asset           TEXT NOT NULL,
    address         TEXT NOT NULL,
    deposit_id      UUID UNIQUE REFERENCES deposits (id),
    -- pending: to be asked; requested: the provider took it; failed: it refused.
    state           TEXT NOT NULL CHECK (state IN ('pending', 'requested', 'failed')),
    source          TEXT NOT NULL CHECK (source IN ('deposit', 'ops')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sweeps_due ON sweeps (next_attempt_at) WHERE state = 'pending';

-- A deposit that becomes confirmed queues its sweep in the same transaction, whichever path
-- confirmed it (a callback, a poll, counted confirmations, an operator's release).
CREATE FUNCTION queue_sweep_for_deposit() RETURNS trigger AS $$
BEGIN
    INSERT INTO sweeps (id, account_id, chain, asset, address, deposit_id, state, source)
    SELECT gen_random_uuid(), NEW.account_id, NEW.chain, NEW.asset, NEW.address, NEW.id,
           'pending', 'deposit'
      FROM sweep_policies p
     WHERE p.account_id = NEW.account_id AND p.chain = NEW.chain AND p.asset = NEW.asset
       AND NEW.amount >= p.min_amount
    ON CONFLICT (deposit_id) DO NOTHING;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deposits_queue_sweep_on_insert AFTER INSERT ON deposits
    FOR EACH ROW WHEN (NEW.state = 'confirmed') EXECUTE FUNCTION queue_sweep_for_deposit();
CREATE TRIGGER deposits_queue_sweep_on_confirm AFTER UPDATE OF state ON deposits
    FOR EACH ROW WHEN (NEW.state = 'confirmed' AND OLD.state <> 'confirmed')
    EXECUTE FUNCTION queue_sweep_for_deposit();

-- The latest balance a provider reported for each of the account's addresses and coins.
CREATE TABLE provider_balances (
    account_id  TEXT NOT NULL,
    address     TEXT NOT NULL,
    chain       TEXT NOT NULL,
    asset       TEXT NOT NULL,
    amount      NUMERIC NOT NULL,
    event_id    BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, address, chain, asset)
);

-- Addresses a merchant watches through a provider (not its deposit addresses): what moves there
-- reaches the merchant as `watch.transfer`, never as a deposit.
CREATE TABLE watch_addresses (
    id          UUID PRIMARY KEY,
    merchant_id UUID NOT NULL REFERENCES merchants (id),
    account_id  TEXT NOT NULL,
    chain       TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT watch_addresses_unique UNIQUE (merchant_id, account_id, chain, address)
);
CREATE INDEX watch_addresses_by_address ON watch_addresses (account_id, chain, address);
