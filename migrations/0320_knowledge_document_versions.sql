-- Replacing a document's content keeping its id (PUT /v1/bots/:id/knowledge/:documentId, or an upload with
-- ?replace=true): the new version is a hidden row (replaces_id = the document it replaces, at most one per
-- document) with its own bytes, status and ingestion job, whose chunks are written under the document it replaces
-- with a generation of their own. Searches read only the chunks of the document's current generation, so the old
-- version answers until the transaction that makes the new one ready swaps the generation (and the file's name,
-- bytes and hash) in one row: never neither, never both. The old generation's chunks are removed afterwards.
create sequence knowledge_generation_seq as integer;
alter table knowledge_documents add column replaces_id uuid references knowledge_documents(id) on delete cascade;
alter table knowledge_documents add column generation integer not null default 0;
create unique index knowledge_documents_replaces_uidx on knowledge_documents (replaces_id) where replaces_id is not null;

alter table knowledge_chunks add column generation integer not null default 0;
alter table knowledge_chunks drop constraint knowledge_chunks_document_id_ordinal_key;
alter table knowledge_chunks add constraint knowledge_chunks_document_generation_ordinal_key unique (document_id, generation, ordinal);
