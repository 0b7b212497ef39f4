-- Sharing a server (docs/sharing.md): members with permissions, and offers
-- of a server's ownership. permissions is a JSON array of permission names
-- ("console", "files.read", ...), written only by the store.
-- A server's rows go with it (Store::delete_server; servers rows are kept
-- as tombstones, so ON DELETE CASCADE alone would not fire).
CREATE TABLE server_members (
  server_id   INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  permissions TEXT    NOT NULL CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
  added_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (server_id, user_id)
) STRICT;
CREATE INDEX server_members_user ON server_members(user_id);

-- At most one open offer per server; a new offer replaces the old one.
CREATE TABLE server_transfers (
  server_id    INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
  from_user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  to_user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  CHECK (to_user_id != from_user_id)
) STRICT;
CREATE INDEX server_transfers_to ON server_transfers(to_user_id);
