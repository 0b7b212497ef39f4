// Backups of a server (game: its server dir; dev: the workspace): list,
// create and restore with the job's progress, download, delete, quota.
import { useRef, useState } from 'preact/hooks';
import { api, type Backup, type BackupList, type Job, type Server } from '../api';
import {
  KIND_LABEL,
  backupErrorText,
  backupLabel,
  fmtWhen,
  hasQuota,
  jobFinal,
  jobProgress,
  jobStepText,
  quotaText,
  shortSha,
  sizeText,
} from '../backups';
import { Alert, ConfirmDialog, ProgressBar, StateBadge, usePoll } from '../components';

// A running create or restore job, followed through GET /api/jobs/{id}.
interface Operation {
  kind: 'create' | 'restore';
  label: string;
  job: Job;
}

export function Backups({ server }: { server: Server }) {
  const id = server.id;
  const [list, setList] = useState<BackupList | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [starting, setStarting] = useState(false);
  const [op, setOp] = useState<Operation | null>(null);
  const [restore, setRestore] = useState<Backup | null>(null);
  const [remove, setRemove] = useState<Backup | null>(null);
  const opRef = useRef<Operation | null>(null);
  opRef.current = op;

  // Jobs this page has followed (or started), so a finished one is not
  // picked up again from the server's latest job.
  const followed = useRef(new Set<number>());

  const load = async () => {
    try {
      const l = await api.backups(id);
      setList(l);
      setLoadError(null);
      resume(l);
    } catch (e) {
      setLoadError(backupErrorText(e, 'load'));
    }
  };

  // Back on the tab while a backup or restore runs (the server's latest
  // job): follow it again.
  const resume = (l: BackupList) => {
    const j = server.job;
    if (opRef.current || !j || followed.current.has(j.id) || jobFinal(j)) return;
    const kind = j.kind === 'backup' ? 'create' : j.kind === 'restore' ? 'restore' : null;
    if (!kind) return;
    const b = l.backups.find((x) => x.state === (kind === 'create' ? 'creating' : 'restoring'));
    followed.current.add(j.id);
    setOp({ kind, label: b ? backupLabel(b) : `(job #${j.id})`, job: { ...j, server_id: id, error: null, steps: [] } });
  };
  const busyRows = !!list?.backups.some((b) => b.state === 'creating' || b.state === 'restoring');
  usePoll(load, op || busyRows ? 1500 : 5000, [id, !!op || busyRows]);

  const finish = (o: Operation, job: Job) => {
    if (job.state === 'done')
      setNotice(o.kind === 'create' ? `Backup ${o.label} created.` : `Restored ${o.label}; the server is starting again.`);
    else
      setError(`${o.kind === 'create' ? 'Backup' : 'Restore'} ${o.label} ${job.state}: ${job.error || 'no reason given'}`);
    setOp(null);
    load();
  };

  usePoll(
    async () => {
      const o = opRef.current;
      if (!o) return;
      let job: Job;
      try {
        job = await api.job(o.job.id);
      } catch (e) {
        setError(`Cannot follow job #${o.job.id}: ${e instanceof Error ? e.message : String(e)}`);
        setOp(null);
        return;
      }
      if (opRef.current !== o) return;
      if (jobFinal(job)) finish(o, job);
      else setOp({ ...o, job });
    },
    1000,
    [op?.job.id],
  );

  const begin = (o: Operation) => {
    followed.current.add(o.job.id);
    setNotice(null);
    setError(null);
    if (jobFinal(o.job)) finish(o, o.job);
    else setOp(o);
    load();
  };

  const create = async (e: Event) => {
    e.preventDefault();
    setStarting(true);
    setError(null);
    setNotice(null);
    try {
      const r = await api.createBackup(id, name.trim() || undefined);
      setName('');
      begin({ kind: 'create', label: backupLabel(r.backup), job: r.job });
    } catch (err) {
      setError(backupErrorText(err, 'create', list?.quota));
    } finally {
      setStarting(false);
    }
  };

  const blocked = !!op || starting;
  return (
    <div class="backups">
      <Alert error={loadError} />
      <Alert error={error} />
      {notice && (
        <div class="alert alert-info" role="status">
          {notice}
        </div>
      )}
      {op && <OperationCard op={op} />}

      <div class="grid2">
        <form class="card form" onSubmit={create} aria-labelledby="backup-create-h" noValidate>
          <h2 id="backup-create-h">Create a backup</h2>
          <div class="field">
            <label for="backup-name">Backup name (optional)</label>
            <input
              id="backup-name"
              value={name}
              maxLength={128}
              autoComplete="off"
              aria-describedby="backup-name-hint"
              onInput={(e) => setName(e.currentTarget.value)}
            />
            <p class="hint" id="backup-name-hint">
              {server.type === 'game'
                ? 'A running game server is paused for saving while its files are archived, and keeps running.'
                : 'The workspace is archived as it is.'}
            </p>
          </div>
          <button type="submit" class="btn btn-primary" disabled={blocked}>
            {starting ? 'Starting…' : 'Create backup'}
          </button>
        </form>
        <QuotaCard list={list} />
      </div>

      <BackupTable
        server={server}
        list={list}
        blocked={blocked}
        onRestore={(b) => setRestore(b)}
        onDelete={(b) => setRemove(b)}
      />

      {restore && (
        <RestoreDialog
          server={server}
          backup={restore}
          quota={list?.quota}
          onClose={() => setRestore(null)}
          onStarted={(job) => {
            setRestore(null);
            begin({ kind: 'restore', label: backupLabel(restore), job });
          }}
        />
      )}
      {remove && (
        <DeleteBackupDialog
          server={server}
          backup={remove}
          onClose={() => setRemove(null)}
          onDeleted={() => {
            setNotice(`Backup ${backupLabel(remove)} deleted.`);
            setRemove(null);
            load();
          }}
        />
      )}
    </div>
  );
}

function OperationCard({ op }: { op: Operation }) {
  const what = op.kind === 'create' ? 'Creating backup' : 'Restoring';
  return (
    <section class="card" role="status" aria-live="polite" aria-labelledby="backup-op-h">
      <h2 id="backup-op-h">
        {what} {op.label}…
      </h2>
      <p class="muted">
        Job #{op.job.id}: {jobStepText(op.job)}
      </p>
      <ProgressBar value={jobProgress(op.job)} label={op.kind === 'create' ? 'Backup progress' : 'Restore progress'} />
    </section>
  );
}

function QuotaCard({ list }: { list: BackupList | null }) {
  const q = list?.quota;
  return (
    <section class="card" aria-labelledby="backup-quota-h">
      <h2 id="backup-quota-h">Backup storage</h2>
      {!q ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          {hasQuota(q) && (
            <meter
              class="quota"
              id="backup-quota"
              aria-label="Backup storage used"
              min={0}
              max={q.limit_bytes!}
              low={q.limit_bytes! * 0.75}
              high={q.limit_bytes! * 0.9}
              optimum={0}
              value={Math.min(q.used_bytes, q.limit_bytes!)}
            />
          )}
          <p data-testid="backup-quota">{quotaText(q)}</p>
          <p class="hint">
            {list?.keep ? `The last ${list.keep} backups are kept; older ones are deleted first.` : 'Backups are kept until you delete them.'}
          </p>
        </>
      )}
    </section>
  );
}

function BackupTable({
  server,
  list,
  blocked,
  onRestore,
  onDelete,
}: {
  server: Server;
  list: BackupList | null;
  blocked: boolean;
  onRestore: (b: Backup) => void;
  onDelete: (b: Backup) => void;
}) {
  return (
    <section class="card" aria-labelledby="backups-h">
      <h2 id="backups-h">Backups</h2>
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.backups.length === 0 ? (
        <p class="muted">No backups yet.</p>
      ) : (
        <div>
          <table class="server-table backup-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Created</th>
                <th scope="col">SHA-256</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.backups.map((b) => (
                <BackupRow key={b.id} server={server} b={b} blocked={blocked} onRestore={onRestore} onDelete={onDelete} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function BackupRow({
  server,
  b,
  blocked,
  onRestore,
  onDelete,
}: {
  server: Server;
  b: Backup;
  blocked: boolean;
  onRestore: (b: Backup) => void;
  onDelete: (b: Backup) => void;
}) {
  const label = backupLabel(b);
  const ready = b.state === 'ready';
  return (
    <tr data-testid={`backup-${b.id}`}>
      <th scope="row">
        <span class="server-name">{label}</span>
        <span class="sub">
{KIND_LABEL[b.kind] ?? b.kind}</span>
      </th>
      <td data-label="State">
        <StateBadge state={b.state} />
        {b.state === 'failed' && b.error && (
          <span class="backup-error field-error" data-testid={`backup-error-${b.id}`}>
            {b.error}
          </span>
        )}
      </td>
      <td class="num" data-label="Size">
        {sizeText(b.size)}
      </td>
      <td data-label="Created">{fmtWhen(b.created_at)}</td>
      <td data-label="SHA-256">
        <code class="mono" title={b.sha256 ?? undefined} data-testid={`backup-sha-${b.id}`}>
          {shortSha(b.sha256)}
        </code>
      </td>
      <td class="actions">
        {ready && (
          <a class="btn btn-small btn-ghost" href={api.backupDownloadUrl(server.id, b.id)} download aria-label={`Download ${label}`}>
            Download
          </a>
        )}
        <button
          type="button"
          class="btn btn-small"
          disabled={!ready || blocked}
          aria-label={`Restore ${label}`}
          onClick={() => onRestore(b)}
        >
          Restore
        </button>
        <button
          type="button"
          class="btn btn-small btn-ghost danger"
          disabled={b.state === 'restoring' || b.state === 'creating'}
          aria-label={`Delete ${label}`}
          onClick={() => onDelete(b)}
        >
          Delete
        </button>
      </td>
    </tr>
  );
}

function RestoreDialog({
  server,
  backup,
  quota,
  onClose,
  onStarted,
}: {
  server: Server;
  backup: Backup;
  quota: BackupList['quota'] | undefined;
  onClose: () => void;
  onStarted: (job: Job) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const serverName = server.name || `server-${server.id}`;
  return (
    <ConfirmDialog
      title={`Restore ${backupLabel(backup)}?`}
      confirmLabel={busy ? 'Restoring…' : 'Restore'}
      busy={busy}
      error={error}
      message={
        <>
          <p>
            <strong>{serverName} will be stopped</strong>, its files replaced with this backup (from{' '}
            {fmtWhen(backup.created_at)}, {sizeText(backup.size)}), then started again.
          </p>
          <p>
            The current files are kept first as an automatic <strong>pre-restore backup</strong>, so you can go back. If
            the restore fails, the server keeps its current files.
          </p>
        </>
      }
      onCancel={onClose}
      onConfirm={async () => {
        setBusy(true);
        setError(null);
        try {
          const r = await api.restoreBackup(server.id, backup.id);
          onStarted(r.job);
        } catch (e) {
          setError(backupErrorText(e, 'restore', quota));
          setBusy(false);
        }
      }}
    />
  );
}

function DeleteBackupDialog({
  server,
  backup,
  onClose,
  onDeleted,
}: {
  server: Server;
  backup: Backup;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <ConfirmDialog
      title={`Delete ${backupLabel(backup)}?`}
      confirmLabel={busy ? 'Deleting…' : 'Delete'}
      busy={busy}
      error={error}
      message={<p>The backup ({sizeText(backup.size)}) is removed for good.</p>}
      onCancel={onClose}
      onConfirm={async () => {
        setBusy(true);
        setError(null);
        try {
          await api.deleteBackup(server.id, backup.id);
          onDeleted();
        } catch (e) {
          setError(backupErrorText(e, 'delete'));
          setBusy(false);
        }
      }}
    />
  );
}
