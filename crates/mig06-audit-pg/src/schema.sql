-- MIG-06 audit store, schema version 1 (applied by `mig06 audit migrate`).
-- Every table is append-only except the one head row, whose size may only grow. The rail's
-- writer role gets INSERT and SELECT (and UPDATE on the head row only); the triggers below
-- refuse UPDATE, DELETE and TRUNCATE on the log's tables even to their owner (statement
-- triggers: refused even when no row matches).

CREATE TABLE mig06_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    size bigint NOT NULL CHECK (size >= 0),
    last_leaf bytea NOT NULL CHECK (length(last_leaf) = 32),
    checkpoint text
);
INSERT INTO mig06_head (singleton, size, last_leaf, checkpoint)
    VALUES (true, 0, decode(repeat('00', 32), 'hex'), NULL);

CREATE TABLE mig06_records (
    seq bigint PRIMARY KEY CHECK (seq >= 0),
    line bytea NOT NULL,
    attempt_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('open', 'terminal')),
    completes text
);
-- The log's rules as constraints (the writers enforce them first, under the head row lock).
CREATE UNIQUE INDEX mig06_records_one_open ON mig06_records (attempt_id) WHERE kind = 'open';
CREATE UNIQUE INDEX mig06_records_one_terminal ON mig06_records (attempt_id) WHERE kind = 'terminal';
CREATE UNIQUE INDEX mig06_records_one_completion ON mig06_records (completes);

-- The one-continuation claim: one row per prior attempt, ever.
CREATE TABLE mig06_claims (
    prior text PRIMARY KEY,
    attempt_id text NOT NULL,
    seq bigint NOT NULL REFERENCES mig06_records (seq)
);

-- Signed checkpoints kept every 256 records.
CREATE TABLE mig06_checkpoints (
    size bigint PRIMARY KEY CHECK (size > 0 AND size % 256 = 0),
    note text NOT NULL
);

CREATE FUNCTION mig06_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mig06: % on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE FUNCTION mig06_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size < OLD.size THEN
        RAISE EXCEPTION 'mig06: the audit log head may not move backwards';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER mig06_records_append_only BEFORE UPDATE OR DELETE ON mig06_records
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_records_no_truncate BEFORE TRUNCATE ON mig06_records
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_claims_append_only BEFORE UPDATE OR DELETE ON mig06_claims
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_claims_no_truncate BEFORE TRUNCATE ON mig06_claims
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_checkpoints_append_only BEFORE UPDATE OR DELETE ON mig06_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_checkpoints_no_truncate BEFORE TRUNCATE ON mig06_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_head_no_delete BEFORE DELETE ON mig06_head
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_head_no_truncate BEFORE TRUNCATE ON mig06_head
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_head_forward BEFORE UPDATE ON mig06_head
    FOR EACH ROW EXECUTE FUNCTION mig06_head_forward();
