-- Streams, their shards (with lineage) and tags. Portable SQL: the same file runs on
-- SQLite (embedded) and Postgres (production). Hash keys are 128-bit, stored as decimal
-- text; times are epoch milliseconds.
CREATE TABLE streams (
    name               TEXT    PRIMARY KEY,
    uid                BIGINT  NOT NULL UNIQUE,
    mode               TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    retention_hours    BIGINT  NOT NULL,
    created_at_ms      BIGINT  NOT NULL,
    next_shard_ordinal BIGINT  NOT NULL,
    version            BIGINT  NOT NULL
);

CREATE TABLE shards (
    stream_name             TEXT    NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    ordinal                 BIGINT  NOT NULL,
    parent_ordinal          BIGINT,
    adjacent_parent_ordinal BIGINT,
    starting_hash_key       TEXT    NOT NULL,
    ending_hash_key         TEXT    NOT NULL,
    created_at_ms           BIGINT  NOT NULL,
    closed_at_ms            BIGINT,
    ending_offset           BIGINT,
    PRIMARY KEY (stream_name, ordinal)
);

CREATE TABLE stream_tags (
    stream_name TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    PRIMARY KEY (stream_name, tag_key)
);
