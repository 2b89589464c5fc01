-- Nothing to change on SQLite: it compares text bytewise already, and the node registers
-- fold_ascii (ASCII letters to lower case) on each connection, matching the PostgreSQL
-- function this migration creates there.
SELECT 1;
