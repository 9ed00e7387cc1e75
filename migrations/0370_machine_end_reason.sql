-- A call answering-machine detection found a machine on ends with the machine's reason (voicemail_left,
-- voicemail_hung_up, fax: src/call/machine-answer.ts), whoever ends it — Twilio's status callback, the ask of
-- Twilio, the sweep — not the caller_hangup a completed status would give. Set at the answer URL; null otherwise.
alter table calls add column machine_end_reason text;
