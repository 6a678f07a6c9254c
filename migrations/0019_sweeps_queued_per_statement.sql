-- New deposits queue their sweeps once per statement rather than once per row: a group of
-- callbacks inserts its deposits in one statement, and the per-row trigger ran a function and a
-- query for each confirmed one. A deposit confirmed later still queues its sweep per row.
DROP TRIGGER deposits_queue_sweep_on_insert ON deposits;

CREATE FUNCTION queue_sweeps_for_new_deposits() RETURNS trigger AS $$
BEGIN
    INSERT INTO sweeps (id, account_id, chain, asset, address, deposit_id, state, source)
    SELECT gen_random_uuid(), d.account_id, d.chain, d.asset, d.address, d.id, 'pending', 'deposit'
      FROM new_deposits d
      JOIN sweep_policies p
        ON p.account_id = d.account_id AND p.chain = d.chain AND p.asset = d.asset
     WHERE d.state = 'confirmed' AND d.amount >= p.min_amount
    ON CONFLICT (deposit_id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deposits_queue_sweeps_on_insert AFTER INSERT ON deposits
    REFERENCING NEW TABLE AS new_deposits
    FOR EACH STATEMENT EXECUTE FUNCTION queue_sweeps_for_new_deposits();
