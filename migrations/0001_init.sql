-- Core schema: merchants, orders, provider callbacks and events, transitions, webhook outbox.
-- Amounts are NUMERIC (exact), times TIMESTAMPTZ. Uniqueness constraints make duplicates impossible.

CREATE TABLE merchants (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    webhook_url     TEXT,
    -- Needed in clear to sign webhooks (HMAC); never returned by the API after creation.
    webhook_secret  TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    merchant_id  UUID NOT NULL REFERENCES merchants (id),
    key_hash     BYTEA NOT NULL,          -- SHA-256 of the key; the key itself is never stored
    key_prefix   TEXT NOT NULL,           -- first characters, to tell keys apart in listings
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT api_keys_hash_unique UNIQUE (key_hash)
);

CREATE TABLE addresses (
    id           UUID PRIMARY KEY,
    merchant_id  UUID NOT NULL REFERENCES merchants (id),
    user_id      TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    chain        TEXT NOT NULL,
    asset        TEXT NOT NULL,           -- the asset first asked for; the address serves its whole chain
    address      TEXT NOT NULL,
    memo         TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT addresses_account_chain_address_unique UNIQUE (account_id, chain, address),
    CONSTRAINT addresses_user_account_chain_unique UNIQUE (merchant_id, user_id, account_id, chain)
);
CREATE INDEX addresses_merchant_user ON addresses (merchant_id, user_id);

CREATE TABLE deposits (
    id            UUID PRIMARY KEY,
    merchant_id   UUID NOT NULL REFERENCES merchants (id),
    address_id    UUID NOT NULL REFERENCES addresses (id),
    account_id    TEXT NOT NULL,
    provider_ref  TEXT NOT NULL,          -- the provider's id of the transfer (Udun tradeId)
    user_id       TEXT NOT NULL,
    chain         TEXT NOT NULL,
    asset         TEXT NOT NULL,
    address       TEXT NOT NULL,
    memo          TEXT,
    amount        NUMERIC NOT NULL CHECK (amount > 0),
    fee           NUMERIC,
    tx_hash       TEXT,
    block_height  BIGINT,
    state         TEXT NOT NULL CHECK (state IN ('detected', 'confirmed', 'failed')),
    needs_review  BOOLEAN NOT NULL DEFAULT FALSE,
    review_reason TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT deposits_account_ref_unique UNIQUE (account_id, provider_ref)
);
CREATE INDEX deposits_merchant_created ON deposits (merchant_id, created_at DESC, id DESC);

CREATE TABLE withdrawals (
    id                   UUID PRIMARY KEY,
    merchant_id          UUID NOT NULL REFERENCES merchants (id),
    client_order_id      TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    provider_request_id  TEXT NOT NULL,   -- derived from id, sent on every attempt (Udun businessId)
    provider_ref         TEXT,            -- the provider's own id once known (Udun tradeId)
    chain                TEXT NOT NULL,
    asset                TEXT NOT NULL,
    amount               NUMERIC NOT NULL CHECK (amount > 0),
    to_address           TEXT NOT NULL,
    memo                 TEXT,
    state                TEXT NOT NULL CHECK (state IN ('accepted', 'submitted', 'unknown', 'approved',
                                                        'broadcast', 'completed', 'rejected', 'failed')),
    tx_hash              TEXT,
    fee                  NUMERIC,
    error_code           TEXT,
    error_message        TEXT,
    needs_review         BOOLEAN NOT NULL DEFAULT FALSE,
    review_reason        TEXT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT withdrawals_client_order_unique UNIQUE (merchant_id, client_order_id),
    CONSTRAINT withdrawals_request_id_unique UNIQUE (account_id, provider_request_id)
);
CREATE INDEX withdrawals_state ON withdrawals (state, updated_at);

-- Every callback as received (secrets redacted), whether it verified or not.
CREATE TABLE provider_callbacks (
    id             UUID PRIMARY KEY,
    account_id     TEXT NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    content_type   TEXT,
    headers        JSONB NOT NULL,
    body           TEXT NOT NULL,
    verified       BOOLEAN NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('processed', 'duplicate', 'rejected')),
    reject_reason  TEXT,
    event_count    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX provider_callbacks_account_received ON provider_callbacks (account_id, received_at DESC);

-- Normalized provider events; the unique event key is what makes a callback count once.
CREATE TABLE provider_events (
    id               BIGSERIAL PRIMARY KEY,
    account_id       TEXT NOT NULL,
    event_key        TEXT NOT NULL,
    callback_id      UUID REFERENCES provider_callbacks (id),
    source           TEXT NOT NULL CHECK (source IN ('callback', 'poll', 'api', 'ops')),
    order_kind       TEXT NOT NULL CHECK (order_kind IN ('deposit', 'withdrawal')),
    provider_ref     TEXT,
    provider_status  TEXT NOT NULL,
    payload          JSONB NOT NULL,
    -- applied | stale | unknown_status | orphan | needs_review
    outcome          TEXT NOT NULL,
    outcome_detail   TEXT,
    order_id         UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT provider_events_key_unique UNIQUE (account_id, event_key)
);
CREATE INDEX provider_events_outcome ON provider_events (outcome, created_at DESC);

CREATE TABLE order_transitions (
    id          BIGSERIAL PRIMARY KEY,
    order_kind  TEXT NOT NULL CHECK (order_kind IN ('deposit', 'withdrawal')),
    order_id    UUID NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('api', 'callback', 'poll', 'ops')),
    event_id    BIGINT REFERENCES provider_events (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_transitions_order ON order_transitions (order_id, id);

-- Merchant notifications, written in the same transaction as the change they announce.
CREATE TABLE webhook_outbox (
    id               UUID PRIMARY KEY,       -- the event id, stable across retries
    merchant_id      UUID NOT NULL REFERENCES merchants (id),
    event_type       TEXT NOT NULL,
    order_id         UUID,
    sequence         BIGINT NOT NULL,        -- increases per order: the transition id
    payload          JSONB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_merchant ON webhook_outbox (merchant_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id              BIGSERIAL PRIMARY KEY,
    outbox_id       UUID NOT NULL REFERENCES webhook_outbox (id),
    attempted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code     INTEGER,
    latency_ms      INTEGER,
    response_body   TEXT,
    error           TEXT
);

-- Where each pull-based feed of a provider account has got to.
CREATE TABLE poll_cursors (
    account_id  TEXT NOT NULL,
    feed        TEXT NOT NULL,
    cursor      TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, feed)
);
