-- vmids the driver found taken by something that is not ours
-- (docs/proxmox.md): never handed out again.
CREATE TABLE vmid_reserved (
  vmid        BIGINT PRIMARY KEY CHECK (vmid BETWEEN 1 AND 999999999),
  reason      TEXT   NOT NULL,
  reserved_at BIGINT NOT NULL
);
