-- Knowledge base: the uploaded bytes (so ingestion survives a restart), chunks with full-text search and the
-- embedded vector store, and a per-bot index version that tells every instance's in-memory vector cache to reload.

alter table knowledge_documents add column kind text check (kind in ('pdf', 'docx', 'txt', 'md', 'csv'));
alter table knowledge_documents add column page_count integer;
-- The same bytes uploaded twice to one bot are one document (the upload answers with the existing row).
create unique index knowledge_documents_bot_sha_uidx on knowledge_documents (bot_id, sha256);
create index knowledge_documents_company_bot_idx on knowledge_documents (company_id, bot_id, created_at desc);

-- Kept after ingestion too, so a document can be re-indexed (e.g. after switching embedders).
create table knowledge_document_blobs (
  document_id uuid primary key references knowledge_documents(id) on delete cascade,
  content bytea not null
);

create table knowledge_chunks (
  id uuid primary key,
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null references bots(id) on delete cascade,
  document_id uuid not null references knowledge_documents(id) on delete cascade,
  ordinal integer not null,
  text text not null,
  page integer,
  section text,
  -- 'english' or 'russian' by the bot's language at ingestion; queries pass the same config explicitly.
  ts_config regconfig not null,
  tsv tsvector generated always as (
    setweight(to_tsvector(ts_config, coalesce(section, '')), 'A') || to_tsvector(ts_config, text)
  ) stored,
  -- float32 little-endian; null when vectors live in an external store (Qdrant).
  embedding bytea,
  created_at timestamptz not null default now(),
  unique (document_id, ordinal)
);
create index knowledge_chunks_bot_idx on knowledge_chunks (bot_id, company_id);
create index knowledge_chunks_tsv_idx on knowledge_chunks using gin (tsv);

-- Bumped in the same transaction as any change to a bot's chunks; an instance whose cached version differs reloads.
create table knowledge_index_versions (
  bot_id uuid primary key references bots(id) on delete cascade,
  version bigint not null default 0
);
