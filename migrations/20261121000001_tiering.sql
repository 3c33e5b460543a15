-- Cold tier: per-stream local retention, and every segment's tier state.
-- A segment row is written (state 'uploading') before its first byte goes to the bucket,
-- and a local copy is dropped only once the row says 'uploaded'; deletion goes
-- 'deleting' -> 'deleted'. The row outlives a crash at any step, so a restart finishes
-- (or undoes) whatever was in flight.
ALTER TABLE streams ADD COLUMN local_retention_bytes BIGINT;
ALTER TABLE streams ADD COLUMN local_retention_ms BIGINT;

CREATE TABLE tier_segments (
    stream_uid         BIGINT NOT NULL,
    ordinal            BIGINT NOT NULL,
    base_offset        BIGINT NOT NULL,
    end_offset         BIGINT NOT NULL,
    generation         BIGINT NOT NULL,
    first_timestamp_ms BIGINT NOT NULL,
    last_timestamp_ms  BIGINT NOT NULL,
    size_bytes         BIGINT NOT NULL,
    object_key         TEXT   NOT NULL,
    state              TEXT   NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    PRIMARY KEY (stream_uid, ordinal, base_offset)
);
CREATE INDEX tier_segments_state ON tier_segments (state);
