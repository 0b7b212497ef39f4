import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, api, type CatalogVersion, type DevCatalog, type GameCatalog } from '../api';
import { Alert, FieldError, errorText, useTitle } from '../components';
import { navigate } from '../router';
import { rememberJob } from './jobs';

type Kind = 'dev' | 'game';
type Errors = Record<string, string>;

function defaultVersion(vs: CatalogVersion[] | undefined): string {
  if (!vs || !vs.length) return '';
  return (vs.find((v) => v.default) ?? vs[0]).version;
}

export function CreateServer() {
  useTitle('Create server');
  const [kind, setKind] = useState<Kind>('dev');
  const [dev, setDev] = useState<DevCatalog | null>(null);
  const [game, setGame] = useState<GameCatalog | null>(null);
  const [catalogError, setCatalogError] = useState<string | null>(null);

  const [name, setName] = useState('');
  const [runtime, setRuntime] = useState('');
  const [devVersion, setDevVersion] = useState('');
  const [codeServer, setCodeServer] = useState(true);
  const [gameId, setGameId] = useState('');
  const [variant, setVariant] = useState('');
  const [gameVersion, setGameVersion] = useState('');
  const [eula, setEula] = useState(false);
  const [memory, setMemory] = useState('1024');
  const [memoryTouched, setMemoryTouched] = useState(false);
  // Empty: the platform's default (grown to code-server's minimum when it is on).
  const [disk, setDisk] = useState('');
  const [cpu, setCpu] = useState('1');

  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api
      .devCatalog()
      .then((c) => {
        setDev(c);
        setCodeServer(c.addons.some((a) => a.id === 'code-server'));
        const r = c.runtimes[0];
        if (r) {
          setRuntime(r.id);
          setDevVersion(defaultVersion(r.versions));
        }
      })
      .catch((e) => setCatalogError(errorText(e)));
    api
      .gameCatalog()
      .then((c) => {
        setGame(c);
        const g = c.games[0];
        const v = g?.variants[0];
        if (g) setGameId(g.id);
        if (v) {
          setVariant(v.id);
          setGameVersion(defaultVersion(v.versions));
        }
      })
      .catch((e) => setCatalogError(errorText(e)));
  }, []);

  useEffect(() => {
    if (!memoryTouched) setMemory(kind === 'dev' ? '1024' : '2048');
  }, [kind, memoryTouched]);

  const runtimeItem = dev?.runtimes.find((r) => r.id === runtime);
  const gameItem = game?.games.find((g) => g.id === gameId);
  const variantItem = gameItem?.variants.find((v) => v.id === variant);

  const onRuntime = (id: string) => {
    setRuntime(id);
    setDevVersion(defaultVersion(dev?.runtimes.find((r) => r.id === id)?.versions));
  };
  const onGame = (id: string) => {
    setGameId(id);
    const v = game?.games.find((g) => g.id === id)?.variants[0];
    setVariant(v?.id ?? '');
    setGameVersion(defaultVersion(v?.versions));
  };
  const onVariant = (id: string) => {
    setVariant(id);
    setGameVersion(defaultVersion(gameItem?.variants.find((v) => v.id === id)?.versions));
  };

  const validate = (): Errors => {
    const e: Errors = {};
    if (name.length > 64) e.name = 'At most 64 characters.';
    const mem = Number(memory);
    if (!Number.isInteger(mem) || mem < 256 || mem > 65536) e.memory_mb = 'Enter a whole number from 256 to 65536.';
    const c = Number(cpu);
    if (!Number.isInteger(c) || c < 1 || c > 32) e.cpu_cores = 'Enter a whole number from 1 to 32.';
    if (disk.trim() && (!Number.isInteger(Number(disk)) || Number(disk) < 1)) e.disk_gb = 'Enter a whole number of GiB, or leave it empty.';
    if (kind === 'dev') {
      if (!runtime) e.runtime = 'Choose a runtime.';
      if (!devVersion) e.version = 'Choose a version.';
    } else {
      if (!gameId) e.game = 'Choose a game.';
      if (!variant) e.variant = 'Choose a variant.';
      if (!gameVersion) e.version = 'Choose a version.';
      if (!eula) e.eula = 'You must accept the Minecraft EULA to run a server.';
    }
    return e;
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError(null);
    const v = validate();
    setErrors(v);
    if (Object.keys(v).length) {
      const first = Object.keys(v)[0];
      document.getElementById(`create-${first}`)?.focus();
      return;
    }
    const body: Record<string, unknown> = {
      type: kind,
      memory_mb: Number(memory),
      cpu_cores: Number(cpu),
    };
    if (name.trim()) body.name = name.trim();
    if (disk.trim()) body.disk_gb = Number(disk);
    if (kind === 'dev') Object.assign(body, { runtime, version: devVersion, enable_code_server: codeServer });
    else Object.assign(body, { game: gameId, variant, version: gameVersion, eula });
    setBusy(true);
    try {
      const r = await api.create(body);
      rememberJob(r.id, r.job);
      navigate(`/servers/${r.id}?job=${r.job}`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'E_EULA_REQUIRED') setErrors({ eula: e.message });
      else if (e instanceof ApiError && e.field && FIELDS.has(e.field)) setErrors({ [e.field]: e.message });
      else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const devVersions = runtimeItem?.versions ?? [];
  const gameVersions = variantItem?.versions ?? [];
  const noMods = useMemo(() => variantItem && !variantItem.mods, [variantItem]);

  const described = (k: string, hint?: boolean) =>
    [hint ? `create-${k}-hint` : '', errors[k] ? `create-${k}-error` : ''].join(' ').trim() || undefined;

  return (
    <main class="page narrow" id="main">
      <h1>Create server</h1>
      <Alert error={catalogError} />
      <form class="card form" onSubmit={submit} noValidate>
        <Alert error={error} />
        <fieldset class="segmented">
          <legend>Type</legend>
          <label class={kind === 'dev' ? 'on' : ''}>
            <input type="radio" name="type" value="dev" checked={kind === 'dev'} onChange={() => setKind('dev')} />
            Dev
          </label>
          <label class={kind === 'game' ? 'on' : ''}>
            <input type="radio" name="type" value="game" checked={kind === 'game'} onChange={() => setKind('game')} />
            Game
          </label>
        </fieldset>

        <div class="field">
          <label for="create-name">Name</label>
          <input
            id="create-name"
            value={name}
            maxLength={64}
            placeholder={kind === 'dev' ? 'my-project' : 'survival'}
            aria-describedby={described('name', true)}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <p class="hint" id="create-name-hint">
            Optional, up to 64 characters.
          </p>
          <FieldError id="create-name-error" error={errors.name} />
        </div>

        {kind === 'dev' ? (
          <>
            <div class="row2">
              <div class="field">
                <label for="create-runtime">Runtime</label>
                <select
                  id="create-runtime"
                  value={runtime}
                  aria-describedby={described('runtime')}
                  onChange={(e) => onRuntime(e.currentTarget.value)}
                >
                  {!dev && <option value="">Loading…</option>}
                  {dev?.runtimes.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.display || r.id}
                    </option>
                  ))}
                </select>
                <FieldError id="create-runtime-error" error={errors.runtime} />
              </div>
              <VersionField value={devVersion} versions={devVersions} onChange={setDevVersion}
                describedBy={described('version')} error={errors.version} />
            </div>
            <div class="field check">
              <input
                id="create-enable_code_server"
                type="checkbox"
                checked={codeServer}
                onChange={(e) => setCodeServer(e.currentTarget.checked)}
              />
              <label for="create-enable_code_server">Enable code-server</label>
              <FieldError id="create-enable_code_server-error" error={errors.enable_code_server} />
            </div>
            <p class="hint indent">
              Runs VS Code in your browser, reachable with the Open IDE button.
              {dev && !dev.addons.some((a) => a.id === 'code-server') && ' (Not offered by the current catalog.)'}
            </p>
          </>
        ) : (
          <>
            <div class="row3">
              <div class="field">
                <label for="create-game">Game</label>
                <select id="create-game" value={gameId} aria-describedby={described('game')} onChange={(e) => onGame(e.currentTarget.value)}>
                  {!game && <option value="">Loading…</option>}
                  {game?.games.map((g) => (
                    <option key={g.id} value={g.id}>
                      {g.id}
                    </option>
                  ))}
                </select>
                <FieldError id="create-game-error" error={errors.game} />
              </div>
              <div class="field">
                <label for="create-variant">Variant</label>
                <select
                  id="create-variant"
                  value={variant}
                  aria-describedby={described('variant')}
                  onChange={(e) => onVariant(e.currentTarget.value)}
                >
                  {gameItem?.variants.map((v) => (
                    <option key={v.id} value={v.id}>
                      {v.id}
                    </option>
                  ))}
                </select>
                <FieldError id="create-variant-error" error={errors.variant} />
              </div>
              <VersionField value={gameVersion} versions={gameVersions} onChange={setGameVersion}
                describedBy={described('version')} error={errors.version} />
            </div>
            {game && game.games.length === 0 && (
              <p class="alert alert-info" role="status">
                The current catalog offers no games.
              </p>
            )}
            {noMods && <p class="hint">This variant does not support mods.</p>}
            <div class={`field check${errors.eula ? ' has-error' : ''}`}>
              <input
                id="create-eula"
                type="checkbox"
                checked={eula}
                aria-invalid={errors.eula ? 'true' : undefined}
                aria-describedby={described('eula')}
                onChange={(e) => setEula(e.currentTarget.checked)}
              />
              <label for="create-eula">I accept the Minecraft EULA</label>
              <a class="small" href="https://aka.ms/MinecraftEULA" target="_blank" rel="noopener noreferrer">
                Read the EULA
              </a>
              <FieldError id="create-eula-error" error={errors.eula} />
            </div>
          </>
        )}

        <div class="row2">
          <div class="field">
            <label for="create-memory_mb">Memory (MB)</label>
            <input
              id="create-memory_mb"
              type="number"
              min={256}
              max={65536}
              step={256}
              value={memory}
              aria-describedby={described('memory_mb')}
              onInput={(e) => {
                setMemoryTouched(true);
                setMemory(e.currentTarget.value);
              }}
            />
            <FieldError id="create-memory_mb-error" error={errors.memory_mb} />
          </div>
          <div class="field">
            <label for="create-cpu_cores">CPU cores</label>
            <input
              id="create-cpu_cores"
              type="number"
              min={1}
              max={32}
              value={cpu}
              aria-describedby={described('cpu_cores')}
              onInput={(e) => setCpu(e.currentTarget.value)}
            />
            <FieldError id="create-cpu_cores-error" error={errors.cpu_cores} />
          </div>
        </div>
        <div class="field">
          <label for="create-disk_gb">Disk (GiB)</label>
          <input
            id="create-disk_gb"
            type="number"
            min={1}
            placeholder="default"
            value={disk}
            aria-describedby={described('disk_gb')}
            onInput={(e) => setDisk(e.currentTarget.value)}
          />
          <FieldError id="create-disk_gb-error" error={errors.disk_gb} />
        </div>

        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy || (!dev && !game)}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </main>
  );
}

const FIELDS = new Set(['name', 'runtime', 'version', 'enable_code_server', 'memory_mb', 'cpu_cores', 'disk_gb', 'game', 'variant', 'eula']);

// The version select of both forms (dev runtime, game variant).
function VersionField(p: {
  value: string;
  versions: { version: string; default?: boolean; channel: string }[];
  onChange: (v: string) => void;
  describedBy: string | undefined;
  error: string | undefined;
}) {
  return (
    <div class="field">
      <label for="create-version">Version</label>
      <select id="create-version" value={p.value} aria-describedby={p.describedBy} onChange={(e) => p.onChange(e.currentTarget.value)}>
        {p.versions.map((v) => (
          <option key={v.version} value={v.version}>
            {v.version}
            {v.default ? ' (default)' : ''}
            {v.channel !== 'stable' ? ` [${v.channel}]` : ''}
          </option>
        ))}
      </select>
      <FieldError id="create-version-error" error={p.error} />
    </div>
  );
}
