-- Facts about this database. `instance` is drawn once, when the database is made: Feishu event
-- ids are derived from it (with the app id and the outbox id), so they never repeat across
-- databases or apps, and stay the same for every redelivery from this one.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(16))));
