-- The lxc driver's slots (docs/drivers.md): slot N gives a container the
-- host id range [id_base + N*65536, +65536) and the address N+2 of its
-- type's subnet. One slot per vmid, never two vmids on one slot: the
-- PRIMARY KEY and the UNIQUE vmid make that a constraint, not luck. A slot
-- is freed only when its container is destroyed.
CREATE TABLE lxc_slots (
  slot         INTEGER PRIMARY KEY CHECK (slot >= 0),
  vmid         INTEGER NOT NULL UNIQUE CHECK (vmid BETWEEN 1 AND 65535),
  allocated_at INTEGER NOT NULL
) STRICT;
