-- When a media session (Twilio stream or web call) started for the call. Lets the status callback tell a call
-- that never had a session (busy, no answer, answered but never streamed) from one whose session is winding down.
alter table calls add column media_started_at timestamptz;
