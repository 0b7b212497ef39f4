-- The lxc driver's slots (docs/drivers.md): one slot per vmid, never two
-- vmids on one slot.
CREATE TABLE lxc_slots (
  slot         BIGINT PRIMARY KEY CHECK (slot >= 0),
  vmid         BIGINT NOT NULL UNIQUE CHECK (vmid BETWEEN 1 AND 65535),
  allocated_at BIGINT NOT NULL
);
