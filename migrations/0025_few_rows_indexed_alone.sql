-- Deposits waiting for confirmations, and orders flagged for review, are a few rows among
-- millions: the confirmation counter (every poll round, for each account) and the backlog gauges
-- (every /metrics scrape) read them, and each read walked the whole table (80 ms and 210 ms at a
-- million deposits, growing with every one stored). Each has a partial index, which a row enters
-- only while it is in that state.
CREATE INDEX deposits_awaiting_confirmation ON deposits (account_id, created_at) WHERE state = 'detected';
CREATE INDEX deposits_needing_review ON deposits (created_at) WHERE needs_review;
CREATE INDEX withdrawals_needing_review ON withdrawals (updated_at) WHERE needs_review;
