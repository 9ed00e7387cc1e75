-- Which webhook settings an attempt went out under. A change of the URL or the events makes the company's pending
-- events due at once (src/db/companies.ts updateWebhookSettings), but an attempt already under way was not pending-
-- and-waiting then: when it failed it set its own retry (up to an hour later; a 410 from the old URL even made it
-- dead), so the newest settings lost to the attempt made under the old ones. Each change of the URL or the events
-- now counts here; the worker reads the count with the settings it sends under, and an attempt settled after the
-- count moved on is pending and due at once instead (src/webhooks/outbox.ts settledAs).
alter table companies add column webhook_settings_version bigint not null default 0;
