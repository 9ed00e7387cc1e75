-- Usage per call (issue #17 point 2): what each call consumed, one row per (call, kind, provider, model), written
-- once when the call's session ends (src/usage/repo.ts). Quantities are in base units: stt_audio_ms (ms of audio
-- sent to the recognizer), tts_chars (characters sent to the synthesizer), llm_input_tokens (uncached input),
-- llm_cached_input_tokens, llm_output_tokens. Telephony minutes are not stored here: they come from the calls'
-- own duration. Cost is not stored either: it is computed when read, from the server's PRICE_* settings.
create table call_usage (
  call_id uuid not null references calls(id) on delete cascade,
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid references bots(id) on delete cascade,
  -- The call's start (copied): the day its usage counts on.
  started_at timestamptz not null,
  kind text not null check (kind in ('stt_audio_ms', 'tts_chars', 'llm_input_tokens', 'llm_cached_input_tokens', 'llm_output_tokens')),
  provider text not null check (length(provider) between 1 and 64),
  model text not null default '' check (length(model) <= 200),
  quantity bigint not null check (quantity >= 0),
  primary key (call_id, kind, provider, model)
);
create index call_usage_company_started_idx on call_usage (company_id, started_at);
create index call_usage_bot_started_idx on call_usage (bot_id, started_at);
