-- Every move of a conversation read position, as a range of sequence numbers: the user read
-- messages from_seq < seq <= to_seq at read_ms. Positions only move forward, so each seq is in at
-- most one range per user: "when did U read message S" is one indexed lookup.
CREATE TABLE read_marks (
    conv_id  INTEGER NOT NULL REFERENCES conversations (id),
    user_id  TEXT    NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq   INTEGER NOT NULL,
    read_ms  INTEGER NOT NULL,
    PRIMARY KEY (conv_id, to_seq, user_id)
) WITHOUT ROWID;

-- Replies and mentions.
ALTER TABLE messages ADD COLUMN parent_id INTEGER;
ALTER TABLE messages ADD COLUMN root_id INTEGER;
ALTER TABLE messages ADD COLUMN mentions TEXT;

-- Idempotency keys of sends (a Feishu `uuid`): scope + key -> the message first sent with it.
CREATE TABLE send_keys (
    scope      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    msg_id     INTEGER NOT NULL REFERENCES messages (id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

-- Reactions on messages, by a user or an app (bot).
CREATE TABLE reactions (
    id          INTEGER PRIMARY KEY,
    msg_id      INTEGER NOT NULL REFERENCES messages (id),
    operator    TEXT    NOT NULL,
    emoji_type  TEXT    NOT NULL,
    action_ms   INTEGER NOT NULL,
    deleted_ms  INTEGER
);
CREATE UNIQUE INDEX reactions_live ON reactions (msg_id, operator, emoji_type) WHERE deleted_ms IS NULL;
CREATE INDEX events_app ON events (app, id)
