-- PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy: the resource policy of a
-- stream and of an enhanced fan-out consumer, as the JSON text it was given (NULL: none).
-- A column on each row, so deleting the stream or deregistering the consumer removes it.
ALTER TABLE streams ADD COLUMN resource_policy TEXT;
ALTER TABLE stream_consumers ADD COLUMN resource_policy TEXT;
