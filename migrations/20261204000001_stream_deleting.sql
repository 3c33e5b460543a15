-- DeleteStream with a lifecycle delay (--create-delay-ms): when the stream started
-- DELETING (ms since the epoch); NULL otherwise.
ALTER TABLE streams ADD COLUMN deleting_since_ms BIGINT;
