-- Accounts of every app (workspace). user_id is the TIM userID (and the Feishu user_id).
CREATE TABLE accounts (
    app        INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    nick       TEXT    NOT NULL DEFAULT '',
    face_url   TEXT    NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (app, user_id)
) WITHOUT ROWID;

-- A conversation is a C2C pair (user_a < user_b) or a group. Group fields are NULL for C2C.
-- last_seq hands out message sequence numbers, strictly increasing within the conversation.
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    app        INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('c2c', 'group')),
    group_id   TEXT,
    group_type TEXT,
    name       TEXT,
    owner      TEXT,
    user_a     TEXT,
    user_b     TEXT,
    created_ms INTEGER NOT NULL,
    live       INTEGER NOT NULL DEFAULT 1,
    last_seq   INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX conversations_group ON conversations (app, group_id) WHERE kind = 'group' AND live = 1;
CREATE UNIQUE INDEX conversations_pair ON conversations (app, user_a, user_b) WHERE kind = 'c2c';
CREATE INDEX conversations_user_b ON conversations (app, user_b) WHERE kind = 'c2c';

-- Current group members. join_seq: the group's last_seq when the member joined.
CREATE TABLE members (
    conv_id   INTEGER NOT NULL REFERENCES conversations (id),
    user_id   TEXT    NOT NULL,
    role      TEXT    NOT NULL DEFAULT 'Member',
    joined_ms INTEGER NOT NULL,
    join_seq  INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;

-- Messages. receipt_code is NULL when receipt state is kept (need_receipt = 1 and allowed),
-- otherwise the neutral reason why not. receivers/read_count are the receipt counters.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    conv_id      INTEGER NOT NULL REFERENCES conversations (id),
    seq          INTEGER NOT NULL,
    sender       TEXT    NOT NULL,
    receiver     TEXT,
    time_ms      INTEGER NOT NULL,
    random       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    need_receipt INTEGER NOT NULL DEFAULT 0,
    receipt_code TEXT,
    online_only  INTEGER NOT NULL DEFAULT 0,
    receivers    INTEGER NOT NULL DEFAULT 0,
    read_count   INTEGER NOT NULL DEFAULT 0,
    recalled     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conv_id, seq)
);

-- The receiver snapshot of a message with receipt state: one row per receiver taken when the
-- message was sent, in member order (idx is the paging cursor). read_ms is set by a receipt.
CREATE TABLE receipts (
    msg_id  INTEGER NOT NULL REFERENCES messages (id),
    idx     INTEGER NOT NULL,
    user_id TEXT    NOT NULL,
    read_ms INTEGER,
    PRIMARY KEY (msg_id, idx)
) WITHOUT ROWID;
CREATE UNIQUE INDEX receipts_user ON receipts (msg_id, user_id);

-- Conversation-level read positions (unread counts, C2C isPeerRead).
CREATE TABLE reads (
    conv_id  INTEGER NOT NULL REFERENCES conversations (id),
    user_id  TEXT    NOT NULL,
    read_seq INTEGER NOT NULL DEFAULT 0,
    read_ms  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;

-- The durable outbox: every event is written in the transaction of the change it reports.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    app     INTEGER NOT NULL,
    type    TEXT    NOT NULL,
    time_ms INTEGER NOT NULL,
    body    BLOB    NOT NULL
);

-- Per delivery channel: the last event it has finished with (delivered or given up).
CREATE TABLE cursors (
    channel    TEXT PRIMARY KEY,
    event_id   INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Every delivery attempt and its outcome (for inspection).
CREATE TABLE attempts (
    id       INTEGER PRIMARY KEY,
    channel  TEXT    NOT NULL,
    event_id INTEGER NOT NULL,
    time_ms  INTEGER NOT NULL,
    ok       INTEGER NOT NULL,
    status   INTEGER,
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX attempts_event ON attempts (channel, event_id)
