-- MIG-06 audit store, schema version 3 (applied by `mig06 audit migrate` after version 2).
-- So that an instance starts without reading the whole log: the tree's full subtrees at every
-- fourth level (4, 8, 12, ...), inserted by the batch that completes them, in its transaction;
-- and, in the head row, a lower bound of the index of every open record that has no terminal
-- record yet (where start-up looks for interrupted attempts). Both are derived from the
-- records and never trusted over them: a node is used only with a proof against a root that
-- start-up checks against the latest signed checkpoint. Append-only like the log's tables.

CREATE TABLE mig06_nodes (
    level smallint NOT NULL CHECK (level > 0 AND level % 4 = 0),
    idx bigint NOT NULL CHECK (idx >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TRIGGER mig06_nodes_append_only BEFORE UPDATE OR DELETE ON mig06_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();
CREATE TRIGGER mig06_nodes_no_truncate BEFORE TRUNCATE ON mig06_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION mig06_append_only();

-- 0 until a writer of version 3 has read the log: start-up then looks from record 0. The bound
-- is authenticated with the head's size by pending_mac (HMAC-SHA-256 under a key only the
-- log's signing key derives), so one who can write the table but not sign cannot hide an
-- interrupted attempt from the next start.
ALTER TABLE mig06_head ADD COLUMN pending_from bigint NOT NULL DEFAULT 0 CHECK (pending_from >= 0);
ALTER TABLE mig06_head ADD COLUMN pending_mac bytea;
