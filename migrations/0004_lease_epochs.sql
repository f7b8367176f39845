-- liverec metadata, version 4: each holding of a lease has an epoch, one more than the
-- previous holding's, so a holder can fence off work done by one that lost the lease.
-- A released lease keeps its row (expired), so its epochs never repeat.

ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
