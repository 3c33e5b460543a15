-- Shard placement: which data-plane node holds each shard, under which generation.
-- The generation only grows; a node serves a shard only at its current generation.
CREATE TABLE shard_assignments (
    stream_uid BIGINT NOT NULL,
    ordinal    BIGINT NOT NULL,
    node_id    TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (stream_uid, ordinal)
);
