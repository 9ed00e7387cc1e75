-- A claimed webhook event records the instance that holds its lease (instances.id, migrations/0070), as a running
-- job does (0290): a delivery whose instance is known to be lost (its heartbeat stopped: a crash, kill -9) is
-- claimed again at once instead of after locked_until. Null for an event no instance holds, and for leases taken
-- before this.
alter table webhook_events add column locked_by uuid;
