-- Webhook secrets being rotated out: every one still inside its overlap window keeps signing (src/db/companies.ts
-- rotateWebhookSecret). One column held one: a second rotation inside the window (a client retrying a rotation
-- whose answer it lost) dropped the secret the receiver still had, and its deliveries failed verification at once.
-- Each entry is {"secret": "whsec_…", "expires_at": "<timestamptz>"}, newest first.
alter table companies add column webhook_previous_secrets jsonb not null default '[]'::jsonb;
update companies
set webhook_previous_secrets = jsonb_build_array(jsonb_build_object('secret', webhook_previous_secret, 'expires_at', webhook_previous_secret_expires_at))
where webhook_previous_secret is not null and webhook_previous_secret_expires_at > now();
alter table companies drop column webhook_previous_secret, drop column webhook_previous_secret_expires_at;
