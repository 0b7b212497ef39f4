-- The IDE origin's handoff (docs/ide.md). Neither table holds a secret:
-- the ticket and the zlh_ide cookie are random values the browser holds,
-- stored here as their SHA-256 (hex).
--
-- A ticket is single use (used_at set by one conditional UPDATE), valid
-- until expires_at (60 s), and bound to the session, its user and a vmid.
CREATE TABLE ide_tickets (
  hash       TEXT    PRIMARY KEY,
  session_id TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vmid       INTEGER NOT NULL CHECK (vmid BETWEEN 1 AND 65535),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX ide_tickets_expires ON ide_tickets(expires_at);

-- A zlh_ide cookie, traded for a ticket: valid for one vmid while its
-- session is (logout revokes the session, and with it every cookie).
CREATE TABLE ide_cookies (
  hash       TEXT    PRIMARY KEY,
  session_id TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vmid       INTEGER NOT NULL CHECK (vmid BETWEEN 1 AND 65535),
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX ide_cookies_session ON ide_cookies(session_id);
