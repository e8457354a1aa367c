-- Each user's total one-to-one unread count (the peers' messages after the user's read position,
-- recalled ones left out), kept by sends, reads and recalls. It used to be counted from the
-- messages on every send and read, which cost more with every message a user never reads (a
-- bot receives thousands). Filled here from the messages already stored.
CREATE TABLE c2c_unread (
    app     INTEGER NOT NULL,
    user_id TEXT    NOT NULL,
    total   INTEGER NOT NULL,
    PRIMARY KEY (app, user_id)
) WITHOUT ROWID;

INSERT INTO c2c_unread (app, user_id, total)
SELECT c.app, p.user_id, count(m.id)
FROM (
    SELECT id, user_a AS user_id FROM conversations WHERE kind = 'c2c'
    UNION ALL
    SELECT id, user_b AS user_id FROM conversations WHERE kind = 'c2c'
) p
JOIN conversations c ON c.id = p.id
JOIN messages m ON m.conv_id = c.id AND m.sender != p.user_id AND m.recalled = 0
LEFT JOIN reads r ON r.conv_id = c.id AND r.user_id = p.user_id
WHERE m.seq > coalesce(r.read_seq, 0)
GROUP BY c.app, p.user_id;
