-- What the sending client itself called a message, kept exactly as sent: its own sequence
-- number (TIM's C2C MsgSeq, which the sender chooses) and its clock when it sent
-- (MsgClientTime). Tencent's Chat SDK builds a message's id from the sender, the client time and
-- the random, so both sides (and every receipt) must see the values the sender used. NULL: the
-- server numbered the message and its send time stands for the client time.
ALTER TABLE messages ADD COLUMN client_seq INTEGER;
ALTER TABLE messages ADD COLUMN client_ms INTEGER;

-- A client names a one-to-one message by (seq, random, time): found by its random.
CREATE INDEX messages_random ON messages (conv_id, random)
