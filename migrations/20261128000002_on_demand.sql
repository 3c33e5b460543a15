-- On-demand capacity: the largest record a stream accepts (UpdateMaxRecordSize), the
-- write throughput an on-demand stream keeps warm (UpdateStreamWarmThroughput), and the
-- times of recent capacity-mode changes (comma-separated ms; two per rolling 24 hours).
ALTER TABLE streams ADD COLUMN max_record_size_kib INTEGER NOT NULL DEFAULT 1024;
ALTER TABLE streams ADD COLUMN warm_throughput_mibps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN mode_changes TEXT NOT NULL DEFAULT '';

-- Every decision of the autoscaler, with its reason and the rates it measured.
CREATE TABLE scaling_events (
    stream_uid  BIGINT  NOT NULL,
    at_ms       BIGINT  NOT NULL,
    action      TEXT    NOT NULL,
    from_shards INTEGER NOT NULL,
    to_shards   INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX scaling_events_by_stream ON scaling_events (stream_uid, at_ms);
