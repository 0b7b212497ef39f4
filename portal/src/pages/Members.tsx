// The Members tab (owner only, docs/portal.md "Sharing"): who else may use
// this server and with which permissions; invite by username or email,
// change permissions, remove; offer the server to another user.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Member, type Server, type TransferOffer } from '../api';
import { fmtAt } from '../activity';
import { Alert, ConfirmDialog, FieldError, errorText } from '../components';
import { PERMISSIONS, PERMISSION_HINT, PERMISSION_LABEL, permsText, sharingErrorText, sortPerms, whoError } from '../sharing';

// Checkboxes of the closed set; `idPrefix` keeps labels unique per form.
function PermissionBoxes({
  idPrefix,
  value,
  onChange,
  legend,
}: {
  idPrefix: string;
  value: Set<string>;
  onChange: (v: Set<string>) => void;
  legend: string;
}) {
  return (
    <fieldset class="perm-boxes">
      <legend>{legend}</legend>
      {PERMISSIONS.map((p) => (
        <label key={p} class="check" for={`${idPrefix}-${p}`} title={PERMISSION_HINT[p]}>
          <input
            type="checkbox"
            id={`${idPrefix}-${p}`}
            checked={value.has(p)}
            onChange={(e) => {
              const n = new Set(value);
              if (e.currentTarget.checked) n.add(p);
              else n.delete(p);
              onChange(n);
            }}
          />{' '}
          {PERMISSION_LABEL[p]}
        </label>
      ))}
    </fieldset>
  );
}

function InviteForm({ server, onAdded }: { server: Server; onAdded: (m: Member) => void }) {
  const [who, setWho] = useState('');
  const [perms, setPerms] = useState<Set<string>>(new Set(['console']));
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = whoError(who);
    setFieldError(bad);
    setError(null);
    if (bad) return;
    setBusy(true);
    try {
      const r = await api.addMember(server.id, who.trim(), sortPerms(perms));
      onAdded(r.member);
      setWho('');
    } catch (err) {
      const msg = sharingErrorText(err, who);
      if (err instanceof ApiError && err.field) setFieldError(msg);
      else setError(msg);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="invite-h" noValidate>
      <h2 id="invite-h">Invite a member</h2>
      <div class="field">
        <label for="invite-who">Username or email</label>
        <input
          id="invite-who"
          value={who}
          autoComplete="off"
          aria-invalid={fieldError ? 'true' : undefined}
          aria-describedby={fieldError ? 'invite-who-error' : undefined}
          onInput={(e) => setWho(e.currentTarget.value)}
        />
        <FieldError id="invite-who-error" error={fieldError ?? undefined} />
      </div>
      <PermissionBoxes idPrefix="invite" legend="Permissions" value={perms} onChange={setPerms} />
      <p class="hint">Every member sees the overview, the live stats and the activity.</p>
      <Alert error={error} />
      <button type="submit" class="btn btn-primary" disabled={busy}>
        {busy ? 'Inviting…' : 'Invite'}
      </button>
    </form>
  );
}

function MemberRow({ server, member, onChanged, onRemove }: {
  server: Server;
  member: Member;
  onChanged: (m: Member) => void;
  onRemove: (m: Member) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [perms, setPerms] = useState<Set<string>>(new Set(member.permissions));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.updateMember(server.id, member.user_id, sortPerms(perms));
      onChanged(r.member);
      setEditing(false);
    } catch (e) {
      setError(sharingErrorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="member" data-testid={`member-${member.username}`}>
      <div class="member-head">
        <div>
          <strong>{member.username}</strong> <span class="muted small">{member.email}</span>
          <div class="small" data-testid={`member-perms-${member.username}`}>
            {permsText(member.permissions)}
          </div>
          <div class="muted small">added {fmtAt(member.added_at)}</div>
        </div>
        <div class="member-actions">
          {!editing && (
            <button
              type="button"
              class="btn btn-small"
              aria-label={`Edit ${member.username}`}
              onClick={() => {
                setPerms(new Set(member.permissions));
                setEditing(true);
              }}
            >
              Edit
            </button>
          )}
          <button type="button" class="btn btn-small btn-danger-outline" aria-label={`Remove ${member.username}`} onClick={() => onRemove(member)}>
            Remove
          </button>
        </div>
      </div>
      {editing && (
        <div class="member-edit">
          <PermissionBoxes idPrefix={`edit-${member.user_id}`} legend={`Permissions of ${member.username}`} value={perms} onChange={setPerms} />
          <Alert error={error} />
          <div class="row-actions">
            <button type="button" class="btn btn-primary btn-small" disabled={busy} onClick={save}>
              {busy ? 'Saving…' : 'Save'}
            </button>
            <button type="button" class="btn btn-small" disabled={busy} onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function TransferCard({ server }: { server: Server }) {
  const [who, setWho] = useState('');
  const [offer, setOffer] = useState<TransferOffer | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The open offer survives a reload: ask for it once.
  useEffect(() => {
    let live = true;
    api
      .transferOf(server.id)
      .then((r) => live && setOffer(r.transfer))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [server.id]);
  const name = server.name || `server-${server.id}`;
  const ask = (e: Event) => {
    e.preventDefault();
    const bad = whoError(who);
    setFieldError(bad);
    if (!bad) setConfirm(true);
  };
  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.offerTransfer(server.id, who.trim());
      setOffer(r.transfer);
      setConfirm(false);
      setWho('');
    } catch (e) {
      setError(sharingErrorText(e, who));
    } finally {
      setBusy(false);
    }
  };
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.cancelTransfer(server.id);
      setOffer(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="transfer-h">
      <h2 id="transfer-h">Transfer ownership</h2>
      {offer ? (
        <div role="status" data-testid="transfer-offer">
          <p>
            Offered to <strong>{offer.to_username}</strong>
            {offer.expires_at ? `, until ${fmtAt(offer.expires_at)}` : ''}. They
            become the owner when they accept it.
          </p>
          <button type="button" class="btn" disabled={busy} onClick={cancel}>
            Cancel the offer
          </button>
        </div>
      ) : (
        <form onSubmit={ask} noValidate>
          <p class="muted">
            The new owner gets everything; you lose access to this server once they accept. Members keep theirs.
          </p>
          <div class="field">
            <label for="transfer-who">New owner (username or email)</label>
            <input
              id="transfer-who"
              value={who}
              autoComplete="off"
              aria-invalid={fieldError ? 'true' : undefined}
              aria-describedby={fieldError ? 'transfer-who-error' : undefined}
              onInput={(e) => setWho(e.currentTarget.value)}
            />
            <FieldError id="transfer-who-error" error={fieldError ?? undefined} />
          </div>
          <button type="submit" class="btn btn-danger-outline" disabled={busy}>
            Offer the server
          </button>
        </form>
      )}
      <Alert error={confirm ? null : error} />
      {confirm && (
        <ConfirmDialog
          title={`Offer ${name} to ${who.trim()}?`}
          message={<p>Once {who.trim()} accepts, they own {name} and you lose access to it.</p>}
          confirmLabel="Offer"
          busy={busy}
          error={error}
          onConfirm={send}
          onCancel={() => setConfirm(false)}
        />
      )}
    </section>
  );
}

export function Members({ server }: { server: Server }) {
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [busy, setBusy] = useState(false);
  const [removeError, setRemoveError] = useState<string | null>(null);

  useEffect(() => {
    api
      .members(server.id)
      .then((r) => setMembers(r.members))
      .catch((e) => setError(`Loading members failed: ${errorText(e)}`));
  }, [server.id]);

  const upsert = (m: Member) =>
    setMembers((list) => {
      const rest = (list ?? []).filter((x) => x.user_id !== m.user_id);
      return [...rest, m].sort((a, b) => a.username.localeCompare(b.username));
    });

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setRemoveError(null);
    try {
      await api.removeMember(server.id, removing.user_id);
      setMembers((list) => (list ?? []).filter((x) => x.user_id !== removing.user_id));
      setNotice(`${removing.username} removed.`);
      setRemoving(null);
    } catch (e) {
      setRemoveError(sharingErrorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="members">
      <Alert error={error} />
      {notice && (
        <div class="alert alert-info" role="status">
          {notice}
        </div>
      )}
      <section class="card" aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        {members === null && !error && <p class="muted">Loading…</p>}
        {members && members.length === 0 && <p class="muted">Nobody else has access to this server.</p>}
        {members && members.length > 0 && (
          <ul class="member-list">
            {members.map((m) => (
              <MemberRow
                key={m.user_id}
                server={server}
                member={m}
                onChanged={(x) => {
                  upsert(x);
                  setNotice(`Permissions of ${x.username} saved.`);
                }}
                onRemove={(x) => {
                  setRemoveError(null);
                  setRemoving(x);
                }}
              />
            ))}
          </ul>
        )}
      </section>
      <InviteForm
        server={server}
        onAdded={(m) => {
          upsert(m);
          setNotice(`${m.username} added (${permsText(m.permissions)}).`);
        }}
      />
      <TransferCard server={server} />
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.username}?`}
          message={<p>{removing.username} loses access to this server at once.</p>}
          confirmLabel="Remove"
          busy={busy}
          error={removeError}
          onConfirm={remove}
          onCancel={() => setRemoving(null)}
        />
      )}
    </div>
  );
}
