-- Millisecond precision for documents' creation time, as for calls and campaigns (0001, 0140): the document list's
-- keyset cursor (GET /v1/bots/:id/knowledge) travels as a JS date, and compares exactly against the stored time.
update knowledge_documents set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table knowledge_documents alter column created_at set default date_trunc('milliseconds', now());
