-- The provider-side wallet an address belongs to (ChainUp sub-wallet id), so that one merchant user
-- keeps one sub-wallet across chains.
ALTER TABLE addresses ADD COLUMN provider_wallet_ref TEXT;
