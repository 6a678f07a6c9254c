-- Operators find any order by transaction hash, address, client order id or provider request id.
CREATE INDEX deposits_tx_hash ON deposits (tx_hash);
CREATE INDEX deposits_address ON deposits (address);
CREATE INDEX withdrawals_tx_hash ON withdrawals (tx_hash);
CREATE INDEX withdrawals_to_address ON withdrawals (to_address);
CREATE INDEX withdrawals_client_order_id ON withdrawals (client_order_id);
