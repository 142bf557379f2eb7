-- The marks that keep a deletion's removal off an upload's bytes
-- (store/blobs.rs), in the database, so uploads on one node and deletions
-- on another see each other's. Both are taken under a transaction-level
-- advisory lock on the hash (postgres/blob_marks.rs).

-- An upload between looking for its bytes and committing its row.
CREATE TABLE blob_pins (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256     TEXT NOT NULL,
    -- A pin whose upload died with its node stops counting then.
    expires_at BIGINT NOT NULL
);
CREATE INDEX blob_pins_sha256 ON blob_pins (sha256);

-- A deletion decided that no row names these bytes; removed after COMMIT
-- unless an upload spared them (deleted the mark) first.
CREATE TABLE condemned_blobs (
    sha256 TEXT PRIMARY KEY
);
