-- The questions a call looks up in the company's documents are embedded too (the search_knowledge tool and the
-- context read for each turn): with a cloud embedder those tokens are billed. They are counted with the call's
-- other usage, one row per (call, provider, model), like ingestion's embedding tokens in ingest_usage.
alter table call_usage drop constraint call_usage_kind_check;
alter table call_usage add constraint call_usage_kind_check
  check (kind in ('stt_audio_ms', 'tts_chars', 'llm_input_tokens', 'llm_cached_input_tokens', 'llm_output_tokens', 'telephony_minutes', 'embedding_tokens'));
