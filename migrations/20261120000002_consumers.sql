-- Registered (enhanced fan-out) consumers of a stream.
CREATE TABLE stream_consumers (
    stream_name   TEXT   NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (stream_name, name)
);
