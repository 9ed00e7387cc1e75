-- When a call's number was erased (src/privacy/erase.ts). What arrives for the call afterwards — a turn of the
-- call still on the line, Twilio's recording callback, a recorded WAV, the post-call analysis — is not stored:
-- the person asked for everything about them to go, and the call may outlive the request by minutes.
alter table calls add column erased_at timestamptz;
