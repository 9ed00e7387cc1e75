-- A running job records the instance that holds its lease (instances.id, migrations/0070), so a lease whose
-- instance is known to be lost (its heartbeat stopped: a crash, kill -9) can be claimed again at once instead of
-- after locked_until, which is minutes away. Null for a job no instance holds, and for leases taken before this.
alter table jobs add column locked_by uuid;
