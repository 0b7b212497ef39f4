-- Invite codes for --registration invite (docs/security.md): made by an
-- admin, single use (used_by set by one conditional UPDATE), stored as the
-- SHA-256 of the code.
CREATE TABLE invites (
  hash       TEXT    PRIMARY KEY,
  created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
  used_at    INTEGER
) STRICT, WITHOUT ROWID;
