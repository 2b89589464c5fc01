-- Nothing to change on SQLite: it compares text bytewise already, and its LIKE folds
-- exactly the ASCII letters, which is what fold_ascii does on PostgreSQL.
SELECT 1;
