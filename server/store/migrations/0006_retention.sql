-- Retention: delivered events and delivery attempts past their age or row limit are pruned in
-- the background; what was pruned is counted here, so the inspection API can say so.
-- (events_app (app, id), from 0002, serves the per-app row limit.)
CREATE INDEX attempts_channel ON attempts (channel, id);
CREATE TABLE pruned (
    kind    TEXT    NOT NULL,  -- 'events' (key: the app's SDKAppID) or 'attempts' (key: channel)
    key     TEXT    NOT NULL,
    rows    INTEGER NOT NULL,  -- rows pruned so far
    upto_ms INTEGER NOT NULL,  -- the newest time_ms of a pruned row
    PRIMARY KEY (kind, key)
) WITHOUT ROWID
