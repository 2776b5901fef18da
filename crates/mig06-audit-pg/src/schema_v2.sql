-- MIG-06 audit store, schema version 2 (applied by `mig06 audit migrate` after version 1).
-- One attempt per request id: the first record of the attempt that holds a request id inserts
-- it here; a second attempt's record with the same id is refused by the primary key (the
-- writers enforce the rule first, under the head row lock). Append-only like the log's tables.

CREATE TABLE mig06_request_ids (
    request_id text PRIMARY KEY,
    attempt_id text NOT NULL,
    seq bigint NOT NULL REFERENCES mig06_records (seq)
);

CREATE TRIGGER mig06_request_ids_append_only BEFORE UPDATE OR DELETE ON mig06_request_ids
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_request_ids_no_truncate BEFORE TRUNCATE ON mig06_request_ids
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
