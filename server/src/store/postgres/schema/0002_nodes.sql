-- The nodes serving this database and the live connections each holds, so
-- presence is right across nodes (docs/STORAGE.md). A node renews
-- `expires_at` with every heartbeat; a node past it is gone (killed, cut
-- off), and the first node to notice clears its connections and tells the
-- contacts of users who are offline now.
CREATE TABLE nodes (
    id         BIGINT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Live connections per user per node. A count, changed by one per
-- connection opened or closed, so the order two changes commit in does not
-- matter; transiently negative when a close commits before its open.
CREATE TABLE node_sockets (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    node_id BIGINT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    sockets INTEGER NOT NULL,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX node_sockets_node ON node_sockets (node_id);
