// File browser (docs/design.md §8): paths are relative to the workload root.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, formatBytes, upload, type FileEntry, type Server } from '../api';
import { Alert, ConfirmDialog, Modal, ProgressBar, errorText } from '../components';
import { Link } from '../router';
import { can } from '../sharing';

const MAX_EDIT = 1024 * 1024;

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

export function Files({ server, path }: { server: Server; path: string }) {
  const id = server.id;
  // A member with files.read only browses and downloads (docs/portal.md, Sharing).
  const write = can(server, 'files.write');
  const dir = path.replace(/^\/+|\/+$/g, '');
  const [entries, setEntries] = useState<FileEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ value: number; label: string } | null>(null);
  const [dialog, setDialog] = useState<
    | { kind: 'mkdir' }
    | { kind: 'rename'; entry: FileEntry }
    | { kind: 'delete'; entry: FileEntry }
    | null
  >(null);
  const [editing, setEditing] = useState<FileEntry | null>(null);
  const abortRef = useRef<(() => void) | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const href = (p: string) => `/servers/${id}/files${p ? `?path=${encodeURIComponent(p)}` : ''}`;

  const load = async () => {
    try {
      const list = await api.list(id, dir);
      list.sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || a.name.localeCompare(b.name));
      setEntries(list);
      setError(null);
    } catch (e) {
      setEntries([]);
      setError(errorText(e));
    }
  };

  useEffect(() => {
    setEntries(null);
    setEditing(null);
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, dir]);

  const onUpload = async (files: FileList | null) => {
    if (!files || !files.length) return;
    const list = Array.from(files);
    setError(null);
    setNotice(null);
    const label = list.length === 1 ? `Uploading ${list[0].name}` : `Uploading ${list.length} files`;
    setProgress({ value: 0, label });
    const u = upload(`/api/servers/${id}/files/upload?path=${encodeURIComponent(dir)}`, list, (loaded, total) =>
      setProgress({ value: total ? loaded / total : 0, label }),
    );
    abortRef.current = u.abort;
    try {
      await u.promise;
      setProgress({ value: 1, label });
      setNotice(`Uploaded ${list.length === 1 ? list[0].name : `${list.length} files`}.`);
      await load();
    } catch (e) {
      setError(`Upload failed: ${errorText(e)}`);
    } finally {
      abortRef.current = null;
      if (fileInput.current) fileInput.current.value = '';
      window.setTimeout(() => setProgress((p) => (p && p.value >= 1 ? null : p)), 1500);
    }
  };

  const crumbs = dir ? dir.split('/') : [];

  if (editing) {
    return (
      <Editor
        server={server}
        path={join(dir, editing.name)}
        onClose={() => {
          setEditing(null);
          load();
        }}
      />
    );
  }

  return (
    <div class="files">
      <nav class="crumbs path" aria-label="Folder">
        <Link href={href('')} aria-current={dir === '' ? 'page' : undefined}>
          {server.type === 'dev' ? 'workspace' : 'server'}
        </Link>
        {crumbs.map((c, i) => {
          const p = crumbs.slice(0, i + 1).join('/');
          return (
            <span key={p}>
              <span aria-hidden="true"> / </span>
              <Link href={href(p)} aria-current={i === crumbs.length - 1 ? 'page' : undefined}>
                {c}
              </Link>
            </span>
          );
        })}
      </nav>

      <div class="toolbar">
        {write && (
          <>
            <input
              id="upload-input"
              ref={fileInput}
              class="file-input"
              type="file"
              multiple
              aria-label="Upload files"
              onChange={(e) => onUpload(e.currentTarget.files)}
              disabled={!!abortRef.current}
            />
            <label class="btn btn-primary file-label" for="upload-input">
              Upload files
            </label>
            <button type="button" class="btn" onClick={() => setDialog({ kind: 'mkdir' })}>
              New folder
            </button>
          </>
        )}
        <a class="btn btn-ghost" href={api.downloadUrl(id, dir)} download>
          Download folder
        </a>
        <span class="spacer" />
        <button type="button" class="btn btn-ghost" onClick={load} aria-label="Refresh file list">
          Refresh
        </button>
      </div>

      {progress && (
        <div class="upload-progress">
          <span>{progress.label}</span>
          <ProgressBar value={progress.value} label="Upload progress" />
          {abortRef.current && progress.value < 1 && (
            <button type="button" class="btn btn-small" onClick={() => abortRef.current?.()}>
              Cancel upload
            </button>
          )}
        </div>
      )}
      <Alert error={error} />
      {notice && (
        <div class="alert alert-info" role="status">
          {notice}
        </div>
      )}

      {entries === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <table class="file-table">
          <caption class="sr-only">Files in {dir || 'the root folder'}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col" class="hide-narrow">
                Modified
              </th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {dir && (
              <tr>
                <td colSpan={4}>
                  <Link href={href(crumbs.slice(0, -1).join('/'))} class="up">
                    .. (up one folder)
                  </Link>
                </td>
              </tr>
            )}
            {entries.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  This folder is empty.
                </td>
              </tr>
            )}
            {entries.map((e) => {
              const p = join(dir, e.name);
              return (
                <tr key={e.name} data-testid={`file-${e.name}`}>
                  <td class="fname">
                    <span class={`ficon ficon-${e.type}`} aria-hidden="true" />
                    {e.type === 'dir' ? (
                      <Link href={href(p)}>{e.name}</Link>
                    ) : e.type === 'file' && e.size <= MAX_EDIT ? (
                      <button type="button" class="linklike" onClick={() => setEditing(e)} title="Edit">
                        {e.name}
                      </button>
                    ) : (
                      <span>{e.name}</span>
                    )}
                  </td>
                  <td class="num">{e.type === 'dir' ? '—' : formatBytes(e.size)}</td>
                  <td class="hide-narrow">{new Date(e.mtime * 1000).toLocaleString()}</td>
                  <td class="actions">
                    {e.type !== 'symlink' && (
                      <a
                        class="btn btn-small btn-ghost"
                        href={api.downloadUrl(id, p)}
                        download
                        aria-label={`Download ${e.name}`}
                      >
                        Download
                      </a>
                    )}
                    {write && (
                      <>
                        <button
                          type="button"
                          class="btn btn-small btn-ghost"
                          aria-label={`Rename ${e.name}`}
                          onClick={() => setDialog({ kind: 'rename', entry: e })}
                        >
                          Rename
                        </button>
                        <button
                          type="button"
                          class="btn btn-small btn-ghost danger"
                          aria-label={`Delete ${e.name}`}
                          onClick={() => setDialog({ kind: 'delete', entry: e })}
                        >
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}

      {dialog?.kind === 'mkdir' && (
        <NameDialog
          title="New folder"
          label="Folder name"
          initial=""
          submitLabel="Create folder"
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            await api.mkdir(id, join(dir, name));
            setDialog(null);
            await load();
          }}
        />
      )}
      {dialog?.kind === 'rename' && (
        <NameDialog
          title={`Rename ${dialog.entry.name}`}
          label="New name"
          initial={dialog.entry.name}
          submitLabel="Save name"
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            await api.rename(id, join(dir, dialog.entry.name), join(dir, name));
            setDialog(null);
            await load();
          }}
        />
      )}
      {dialog?.kind === 'delete' && (
        <DeleteEntry
          entry={dialog.entry}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.del(id, [join(dir, dialog.entry.name)]);
            setDialog(null);
            await load();
          }}
        />
      )}
    </div>
  );
}

function NameDialog({
  title,
  label,
  initial,
  submitLabel,
  onClose,
  onSubmit,
}: {
  title: string;
  label: string;
  initial: string;
  submitLabel: string;
  onClose: () => void;
  onSubmit: (name: string) => Promise<void>;
}) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!n || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
      setError('Enter a name without "/".');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSubmit(n);
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'E_BADPATH' ? `Not allowed: ${err.message}` : errorText(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <div class="field">
          <label for="name-dialog-input">{label}</label>
          <input
            id="name-dialog-input"
            value={name}
            autoComplete="off"
            autoFocus
            aria-invalid={error ? 'true' : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </div>
        <Alert error={error} />
        <div class="modal-actions">
          <button type="button" class="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function DeleteEntry({ entry, onClose, onConfirm }: { entry: FileEntry; onClose: () => void; onConfirm: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <ConfirmDialog
      title={`Delete ${entry.name}?`}
      message={
        <p>
          {entry.type === 'dir' ? 'The folder and everything in it will be deleted.' : 'The file will be deleted.'} This
          cannot be undone.
        </p>
      }
      busy={busy}
      error={error}
      onCancel={onClose}
      onConfirm={async () => {
        setBusy(true);
        setError(null);
        try {
          await onConfirm();
        } catch (e) {
          setError(errorText(e));
          setBusy(false);
        }
      }}
    />
  );
}

function Editor({ server, path, onClose }: { server: Server; path: string; onClose: () => void }) {
  const write = can(server, 'files.write');
  const [text, setText] = useState<string | null>(null);
  const [orig, setOrig] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .readText(server.id, path)
      .then((t) => {
        setText(t);
        setOrig(t);
      })
      .catch((e) => setError(errorText(e)));
  }, [server.id, path]);
  const dirty = text !== null && text !== orig;
  const save = async (e: Event) => {
    e.preventDefault();
    if (text === null) return;
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      await api.write(server.id, path, text);
      setOrig(text);
      setSaved(`Saved ${path}.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    if (dirty && !window.confirm('Discard unsaved changes?')) return;
    onClose();
  };
  const name = path.split('/').pop() ?? path;
  return (
    <form class="editor" onSubmit={save}>
      <div class="toolbar">
        <strong class="mono">{path}</strong>
        {dirty && <span class="muted small">(unsaved)</span>}
        <span class="spacer" />
        <button type="button" class="btn" onClick={close}>
          Close
        </button>
        {write && (
          <button type="submit" class="btn btn-primary" disabled={busy || text === null}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        )}
      </div>
      <Alert error={error} />
      {saved && (
        <div class="alert alert-info" role="status">
          {saved}
        </div>
      )}
      <label class="sr-only" for="editor-text">
        Contents of {name}
      </label>
      <textarea
        id="editor-text"
        class="mono"
        spellcheck={false}
        value={text ?? ''}
        disabled={text === null}
        readOnly={!write}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if ((e.ctrlKey || e.metaKey) && e.key === 's') {
            e.preventDefault();
            (e.currentTarget.form as HTMLFormElement | null)?.requestSubmit();
          }
        }}
      />
    </form>
  );
}
