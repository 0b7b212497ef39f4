// Private network access to a dev container through Headscale (docs/design.md §10.6).
import { useState } from 'preact/hooks';
import { api, type Server, type TailscaleAccess } from '../api';
import { Alert, ConfirmDialog, errorText } from '../components';

function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API unavailable (http origin): a hidden textarea and execCommand.
      const t = document.createElement('textarea');
      t.value = text;
      t.setAttribute('readonly', '');
      t.style.position = 'fixed';
      t.style.opacity = '0';
      document.body.appendChild(t);
      t.select();
      document.execCommand('copy');
      t.remove();
    }
    setDone(true);
    window.setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="btn btn-small" onClick={copy} aria-label={label}>
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

function Cmd({ text, label }: { text: string; label: string }) {
  return (
    <div class="cmd">
      <code>{text}</code>
      <CopyButton text={text} label={label} />
    </div>
  );
}

export function Tailscale({ server }: { server: Server }) {
  const [access, setAccess] = useState<TailscaleAccess | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const ready = server.state === 'ready';

  const generate = async () => {
    setBusy('gen');
    setError(null);
    setNotice(null);
    try {
      setAccess(await api.tailscaleEnable(server.id));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  };
  const revoke = async () => {
    setConfirm(false);
    setBusy('revoke');
    setError(null);
    setNotice(null);
    try {
      await api.tailscaleDisable(server.id);
      setAccess(null);
      setNotice('Private network access revoked: unused keys are expired and the container left the network.');
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div class="tailscale">
      <section class="card">
        <h2>Private network (Tailscale)</h2>
        <p>
          Join this container and your own device to a private network, then connect with SSH or VS Code Remote-SSH.
          The device key is shown <strong>once</strong> and works once.
        </p>
        <div class="btn-row">
          <button type="button" class="btn btn-primary" onClick={generate} disabled={!!busy || !ready}>
            {busy === 'gen' ? 'Generating… (this can take a minute)' : 'Generate keys'}
          </button>
          <button type="button" class="btn btn-danger-outline" onClick={() => setConfirm(true)} disabled={!!busy}>
            {busy === 'revoke' ? 'Revoking…' : 'Revoke access'}
          </button>
        </div>
        {!ready && <p class="hint">Available once the server is ready.</p>}
        <Alert error={error} />
        {notice && (
          <div class="alert alert-info" role="status">
            {notice}
          </div>
        )}
      </section>

      {access && (
        <section class="card" aria-labelledby="ts-steps">
          <h2 id="ts-steps">Connect your device</h2>
          <div class="alert alert-warn" role="status">
            Copy the key now: it is shown only once and expires at {new Date(access.device.expires_at).toLocaleString()}.
          </div>
          <div class="field">
            <span class="label" id="device-key-label">
              Device key
            </span>
            <div class="cmd">
              <code data-testid="device-key" aria-labelledby="device-key-label">
                {access.device.authkey}
              </code>
              <CopyButton text={access.device.authkey} label="Copy device key" />
            </div>
          </div>
          <ol class="howto">
            <li>
              <p>Install Tailscale on your device, then join the network:</p>
              <Cmd text={access.instructions.tailscale_up} label="Copy tailscale up command" />
            </li>
            <li>
              <p>
                Find the container's address (<span class="mono">{access.hostname}</span>):
              </p>
              <Cmd text={access.instructions.find_ip} label="Copy find IP command" />
            </li>
            <li>
              <p>Connect with SSH, using that 100.x address:</p>
              <Cmd text={access.instructions.ssh} label="Copy ssh command" />
            </li>
            <li>
              <p>{access.instructions.vscode}</p>
            </li>
          </ol>
          <h3>Good to know</h3>
          <ul class="constraints">
            {access.constraints.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
          <details>
            <summary>All steps as text</summary>
            <pre class="mono">{access.instructions.text}</pre>
            <CopyButton text={access.instructions.text} label="Copy all steps" />
          </details>
        </section>
      )}

      {!access && (
        <section class="card muted-card">
          <h3>Good to know</h3>
          <ul class="constraints">
            <li>No MagicDNS: use the container's 100.x address, not its name.</li>
            <li>No exit nodes: the container does not route your internet traffic.</li>
            <li>No DNS takeover: zlh never changes your device's DNS.</li>
          </ul>
        </section>
      )}

      {confirm && (
        <ConfirmDialog
          title="Revoke private network access?"
          message={<p>Unused keys are expired and the container leaves the network. Devices already joined lose access to it.</p>}
          confirmLabel="Revoke"
          onCancel={() => setConfirm(false)}
          onConfirm={revoke}
        />
      )}
    </div>
  );
}
