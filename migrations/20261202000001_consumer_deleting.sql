-- DeregisterStreamConsumer with a lifecycle delay (--create-delay-ms): when the consumer
-- started DELETING (ms since the epoch); NULL while it is registered.
ALTER TABLE stream_consumers ADD COLUMN deleting_since_ms BIGINT;
