-- Twilio media streams number their messages (sequenceNumber); a number skipped is a message Twilio never sent, most
-- often 20 ms of the caller's audio. Counted per call on the media path (no write per frame) and stored once when the
-- call ends (src/telephony/twilio/sequence-gaps.ts): where the numbers jumped, and how many messages they skipped.
-- Null: a web call, or a call before this count.
alter table calls add column media_sequence_gaps integer, add column media_messages_lost integer;
