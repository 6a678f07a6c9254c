-- A withdrawal being sent to its provider holds a lease longer than the provider timeout; nothing
-- else sends it while the lease holds, so at most one request per withdrawal is ever in flight.
ALTER TABLE withdrawals ADD COLUMN send_lease_until TIMESTAMPTZ;
