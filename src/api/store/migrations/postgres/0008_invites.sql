-- Invite codes for --registration invite (docs/security.md), stored as the
-- SHA-256 of the code, single use.
CREATE TABLE invites (
  hash       TEXT   PRIMARY KEY,
  created_by BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
  used_at    BIGINT
);
