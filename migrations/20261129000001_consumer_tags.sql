-- Tags of enhanced fan-out consumers (TagResource / UntagResource / ListTagsForResource
-- on a consumer ARN), as a JSON object of strings.
ALTER TABLE stream_consumers ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
