-- The IDE origin's handoff (docs/ide.md): tickets and zlh_ide cookies,
-- stored as the SHA-256 (hex) of the values the browser holds.
CREATE TABLE ide_tickets (
  hash       TEXT   PRIMARY KEY,
  session_id TEXT   NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vmid       BIGINT NOT NULL CHECK (vmid BETWEEN 1 AND 65535),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT
);
CREATE INDEX ide_tickets_expires ON ide_tickets(expires_at);

CREATE TABLE ide_cookies (
  hash       TEXT   PRIMARY KEY,
  session_id TEXT   NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vmid       BIGINT NOT NULL CHECK (vmid BETWEEN 1 AND 65535),
  created_at BIGINT NOT NULL
);
CREATE INDEX ide_cookies_session ON ide_cookies(session_id);
