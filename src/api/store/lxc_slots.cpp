// The lxc driver's slots (migrations/0004_lxc_slots.sql).
#include "api/store/impl.hpp"

namespace zlh::api::store {

Result<int> Store::acquire_lxc_slot(int vmid, int slots) {
  if (vmid < 1 || vmid > 65535) return std::unexpected(Error::invalid("vmid", "vmid out of range"));
  if (slots < 1) return std::unexpected(Error::invalid("slots", "slots must be positive"));
  return impl_->write("acquire lxc slot", [&](Db& db) -> Result<int> {
    Stmt held = db.prepare("SELECT slot FROM lxc_slots WHERE vmid = ?1");
    held.bind(1, vmid);
    if (held.step()) return held.col(0).int32();
    // The lowest free slot: 0 when free, else the first gap after a used one.
    Stmt q = db.prepare(
        "SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM lxc_slots WHERE slot = 0)"
        " UNION ALL SELECT s.slot + 1 FROM lxc_slots s"
        " WHERE NOT EXISTS (SELECT 1 FROM lxc_slots t WHERE t.slot = s.slot + 1)"
        " ORDER BY 1 LIMIT 1");
    int slot = q.step() ? q.col(0).int32() : 0;
    if (slot >= slots) return fail(codes::kUnavailable, "lxc slot pool exhausted");
    Stmt ins = db.prepare("INSERT INTO lxc_slots (slot, vmid, allocated_at) VALUES (?1, ?2, ?3)");
    ins.bind(1, slot);
    ins.bind(2, vmid);
    ins.bind(3, impl_->now_ms());
    ins.exec();
    return slot;
  });
}

Result<void> Store::release_lxc_slot(int vmid) {
  return impl_->write("release lxc slot", [&](Db& db) -> Result<void> {
    Stmt q = db.prepare("DELETE FROM lxc_slots WHERE vmid = ?1");
    q.bind(1, vmid);
    q.exec();
    return {};
  });
}

Result<int> Store::lxc_slot(int vmid) {
  return impl_->read("lxc slot", [&](Db& db) -> Result<int> {
    Stmt q = db.prepare("SELECT slot FROM lxc_slots WHERE vmid = ?1");
    q.bind(1, vmid);
    if (!q.step()) return fail(codes::kNotFound, "no lxc slot for vmid " + std::to_string(vmid));
    return q.col(0).int32();
  });
}

}  // namespace zlh::api::store
