-- EnableEnhancedMonitoring / DisableEnhancedMonitoring: the stream's shard-level metrics,
-- comma-separated Kinesis metric names (empty: none).
ALTER TABLE streams ADD COLUMN shard_level_metrics TEXT NOT NULL DEFAULT '';
