// Mods of a game server (docs/design.md §9).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, formatBytes, upload, type Mod, type Server } from '../api';
import { Alert, ConfirmDialog, ProgressBar, errorText } from '../components';
import { can } from '../sharing';

export function Mods({ server }: { server: Server }) {
  const id = server.id;
  // Installing and toggling need files.write, restarting power (docs/portal.md, Sharing).
  const write = can(server, 'files.write');
  const mayPower = can(server, 'power');
  const [mods, setMods] = useState<Mod[] | null>(null);
  const [restart, setRestart] = useState(false);
  const [unsupported, setUnsupported] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [artifact, setArtifact] = useState('');
  const [sha, setSha] = useState('');
  const [fieldErr, setFieldErr] = useState<{ artifact?: string; sha256?: string }>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [confirm, setConfirm] = useState<Mod | null>(null);
  const jar = useRef<HTMLInputElement>(null);

  const load = async () => {
    try {
      const r = await api.mods(id);
      setMods(r.mods);
      setRestart(r.restartRequired);
      setError(null);
      setUnsupported(null);
    } catch (e) {
      setMods([]);
      if (e instanceof ApiError && e.status === 400) setUnsupported(e.message);
      else setError(errorText(e));
    }
  };
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  const after = async (r: { restart_required?: boolean } | null | undefined, msg: string) => {
    if (r?.restart_required) setRestart(true);
    setNotice(msg);
    await load();
  };

  const install = async (e: Event) => {
    e.preventDefault();
    const fe: typeof fieldErr = {};
    if (!artifact.trim()) fe.artifact = 'Enter the artifact path.';
    if (!/^[0-9a-fA-F]{64}$/.test(sha.trim())) fe.sha256 = 'Enter the 64 hex digit SHA-256.';
    setFieldErr(fe);
    if (Object.keys(fe).length) return;
    setBusy('install');
    setError(null);
    setNotice(null);
    try {
      const r = await api.installMod(id, artifact.trim(), sha.trim().toLowerCase());
      setArtifact('');
      setSha('');
      await after(r, 'Mod installed.');
    } catch (err) {
      if (err instanceof ApiError && (err.field === 'artifact' || err.field === 'sha256'))
        setFieldErr({ [err.field]: err.message });
      else if (err instanceof ApiError && err.code === 'E_HASH_MISMATCH') setFieldErr({ sha256: err.message });
      else setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  const onJar = async (files: FileList | null) => {
    if (!files || !files.length) return;
    const list = Array.from(files);
    const bad = list.find((f) => !f.name.endsWith('.jar'));
    if (bad) {
      setError(`${bad.name}: mods are .jar files`);
      if (jar.current) jar.current.value = '';
      return;
    }
    setError(null);
    setNotice(null);
    setProgress(0);
    try {
      const r = (await upload(`/api/servers/${id}/mods/install`, list, (l, t) => setProgress(t ? l / t : 0)).promise) as {
        restart_required?: boolean;
      };
      setProgress(1);
      await after(r, `Uploaded ${list.map((f) => f.name).join(', ')}.`);
    } catch (e) {
      setError(`Upload failed: ${errorText(e)}`);
    } finally {
      if (jar.current) jar.current.value = '';
      window.setTimeout(() => setProgress(null), 1200);
    }
  };

  const toggle = async (m: Mod) => {
    setBusy(m.id);
    setError(null);
    setNotice(null);
    try {
      await after(await api.setMod(id, m.id, !m.enabled), `${m.id} ${m.enabled ? 'disabled' : 'enabled'}.`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  };

  if (unsupported)
    return (
      <div class="card">
        <h2>Mods</h2>
        <p>This server does not support mods ({unsupported}).</p>
      </div>
    );

  return (
    <div class="mods">
      {restart && (
        <div class="alert alert-warn" role="status">
          <strong>Restart required:</strong> the running server loads mod changes on its next restart.
          {mayPower && (
            <button
              type="button"
              class="btn btn-small"
              disabled={busy === 'restart'}
              onClick={async () => {
                setBusy('restart');
                try {
                  await api.power(id, 'restart');
                  await load();
                  setNotice('Server restarted.');
                } catch (e) {
                  setError(errorText(e));
                } finally {
                  setBusy(null);
                }
              }}
            >
              {busy === 'restart' ? 'Restarting…' : 'Restart now'}
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

      <section class="card" aria-labelledby="mods-h">
        <h2 id="mods-h">Installed mods</h2>
        {mods === null ? (
          <p class="muted">Loading…</p>
        ) : mods.length === 0 ? (
          <p class="muted">No mods installed.</p>
        ) : (
          <table class="file-table">
            <thead>
              <tr>
                <th scope="col">Mod</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {mods.map((m) => (
                <tr key={m.id} data-testid={`mod-${m.id}`}>
                  <td>
                    <strong>{m.id}</strong>
                    <span class="sub mono" title={m.sha256}>
                      {m.file}
                    </span>
                  </td>
                  <td class="num">{formatBytes(m.size)}</td>
                  <td>
                    <span class={`badge ${m.enabled ? 'badge-ok' : 'badge-muted'}`}>{m.enabled ? 'enabled' : 'disabled'}</span>
                  </td>
                  <td class="actions">
                    {write && (
                      <>
                        <button
                          type="button"
                          class="btn btn-small"
                          disabled={busy === m.id}
                          aria-label={`${m.enabled ? 'Disable' : 'Enable'} ${m.id}`}
                          onClick={() => toggle(m)}
                        >
                          {m.enabled ? 'Disable' : 'Enable'}
                        </button>
                        <button
                          type="button"
                          class="btn btn-small btn-ghost danger"
                          aria-label={`Delete ${m.id}`}
                          onClick={() => setConfirm(m)}
                        >
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {write && (
        <div class="grid2">
          <form class="card form" onSubmit={install} noValidate>
            <h2 id="install-h">Install from the store</h2>
            <div class="field">
              <label for="mod-artifact">Artifact</label>
              <input
                id="mod-artifact"
                class="mono"
                placeholder="mods/example/1.0/example.jar"
                value={artifact}
                aria-invalid={fieldErr.artifact ? 'true' : undefined}
                aria-describedby={fieldErr.artifact ? 'mod-artifact-error' : undefined}
                onInput={(e) => setArtifact(e.currentTarget.value)}
              />
              {fieldErr.artifact && (
                <p class="field-error" id="mod-artifact-error" role="alert">
                  {fieldErr.artifact}
                </p>
              )}
            </div>
            <div class="field">
              <label for="mod-sha256">SHA-256</label>
              <input
                id="mod-sha256"
                class="mono"
                value={sha}
                aria-invalid={fieldErr.sha256 ? 'true' : undefined}
                aria-describedby={fieldErr.sha256 ? 'mod-sha256-error' : undefined}
                onInput={(e) => setSha(e.currentTarget.value)}
              />
              {fieldErr.sha256 && (
                <p class="field-error" id="mod-sha256-error" role="alert">
                  {fieldErr.sha256}
                </p>
              )}
            </div>
            <button type="submit" class="btn btn-primary" disabled={busy === 'install'}>
              {busy === 'install' ? 'Installing…' : 'Install'}
            </button>
          </form>
          <section class="card form" aria-labelledby="upload-h">
            <h2 id="upload-h">Upload a .jar</h2>
            <div class="field">
              <label for="mod-upload">Upload mod (.jar)</label>
              <input id="mod-upload" ref={jar} type="file" accept=".jar" multiple onChange={(e) => onJar(e.currentTarget.files)} />
            </div>
            {progress !== null && <ProgressBar value={progress} label="Mod upload progress" />}
          </section>
        </div>
      )}

      {confirm && (
        <ConfirmDialog
          title={`Delete ${confirm.id}?`}
          message={<p>The mod file {confirm.file} will be deleted.</p>}
          onCancel={() => setConfirm(null)}
          onConfirm={async () => {
            const m = confirm;
            setConfirm(null);
            try {
              await after(await api.deleteMod(id, m.id), `${m.id} deleted.`);
            } catch (e) {
              setError(errorText(e));
            }
          }}
        />
      )}
    </div>
  );
}
