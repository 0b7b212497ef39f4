-- Sharing a server (docs/sharing.md): members with permissions (a JSON
-- array of permission names), and offers of a server's ownership.
CREATE TABLE server_members (
  server_id   BIGINT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  permissions json   NOT NULL CHECK (json_typeof(permissions) = 'array'),
  added_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (server_id, user_id)
);
CREATE INDEX server_members_user ON server_members(user_id);

-- At most one open offer per server; a new offer replaces the old one.
CREATE TABLE server_transfers (
  server_id    BIGINT PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
  from_user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  to_user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  CHECK (to_user_id != from_user_id)
);
CREATE INDEX server_transfers_to ON server_transfers(to_user_id);
