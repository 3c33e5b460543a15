-- StartStreamEncryption / StopStreamEncryption: the KeyId in force (NULL: records are
-- written in the clear) and the version of the data key new records use; every data key
-- the stream has had, sealed by the master key (JSON list), kept so old records stay
-- readable. UpdateStreamRecordDistributionStrategy: how an on-demand stream spreads
-- records over its shards.
ALTER TABLE streams ADD COLUMN encryption_key_id TEXT;
ALTER TABLE streams ADD COLUMN encryption_key_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN data_keys TEXT NOT NULL DEFAULT '[]';
ALTER TABLE streams ADD COLUMN record_distribution TEXT NOT NULL DEFAULT 'USER_PARTITION_KEY';
