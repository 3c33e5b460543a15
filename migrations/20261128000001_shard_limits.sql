-- Per-stream per-shard throughput limits (all NULL: the deployment's default, set with
-- --shard-limits). 0 in a column means that dimension is not limited.
ALTER TABLE streams ADD COLUMN limit_write_bytes BIGINT;
ALTER TABLE streams ADD COLUMN limit_write_records BIGINT;
ALTER TABLE streams ADD COLUMN limit_read_calls BIGINT;
ALTER TABLE streams ADD COLUMN limit_read_bytes BIGINT;
