-- vmids the driver found taken by something that is not ours (a Proxmox
-- guest created outside zlh, docs/proxmox.md): never handed out again.
-- An operator frees one by deleting its row once the guest is gone.
CREATE TABLE vmid_reserved (
  vmid        INTEGER PRIMARY KEY CHECK (vmid BETWEEN 1 AND 999999999),
  reason      TEXT    NOT NULL,
  reserved_at INTEGER NOT NULL
) STRICT;
