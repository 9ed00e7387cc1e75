-- An upload's bytes are stored in parts of at most 1 MiB (issue #12): a 20 MB value encoded or decoded in one
-- piece by the driver blocks the event loop that carries live calls for a few hundred milliseconds; a part
-- takes a few. Existing blobs become part 0.
alter table knowledge_document_blobs add column part integer not null default 0;
alter table knowledge_document_blobs drop constraint knowledge_document_blobs_pkey;
alter table knowledge_document_blobs add primary key (document_id, part);
