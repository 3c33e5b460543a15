-- Replicated shards: every assignment names its replica set (leader first) and the
-- replicas still rebuilding (they neither vote nor lead until caught up). Nodes are
-- remembered with the id of their data disk, so a node back on an empty disk is known.
-- A node being drained keeps that mark across control-plane restarts.
-- Streams may set their own replication factor (0: the cluster default). Shard events
-- keep what an operator forced (a move that lost records, for instance).
ALTER TABLE shard_assignments ADD COLUMN replicas TEXT NOT NULL DEFAULT '';
ALTER TABLE shard_assignments ADD COLUMN rebuilding TEXT NOT NULL DEFAULT '';
ALTER TABLE streams ADD COLUMN replication_factor INTEGER NOT NULL DEFAULT 0;

CREATE TABLE cluster_nodes (
    node_id  TEXT    PRIMARY KEY,
    disk_id  TEXT    NOT NULL,
    draining INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE shard_events (
    stream_uid BIGINT NOT NULL,
    ordinal    BIGINT NOT NULL,
    at_ms      BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    detail     TEXT   NOT NULL
);
CREATE INDEX shard_events_shard ON shard_events (stream_uid, ordinal);
