// The zlh-api client: cookie session only (the HttpOnly `zlh_session` set by
// login/register), never a token in storage. Every state-changing request
// carries `X-ZLH-CSRF: 1` (docs/design.md §10.2). Errors come back as ApiError with the
// API's stable code and, for E_INVALID, the offending field.

import type { ListStats } from './stats';

export interface User {
  id: number;
  email: string;
  username: string;
  is_admin: boolean;
  created_at: string;
}

// GET /api/servers/{id} (src/api/app/server_view.cpp).
export interface Server {
  id: number;
  name: string;
  type: 'dev' | 'game';
  state: 'provisioning' | 'ready' | 'error' | 'deleting' | 'deleted' | string;
  agent_state: string;
  agent_last_seen: string | null;
  crash_count: number;
  /** How the workload last ended; reason "out of memory" when the OOM killer ended it. */
  last_exit: { code?: number; signal?: number; reason?: string } | null;
  error: string | null;
  hostname: string;
  ip: string;
  ide_url: string | null;
  install_step: string;
  progress: number;
  ports: number[];
  spec: {
    runtime?: string;
    version?: string;
    enable_code_server?: boolean;
    game?: string;
    variant?: string;
    memory_mb?: number;
    cpu_cores?: number;
    [k: string]: unknown;
  };
  vmid: number | null;
  created_at: string | null;
  updated_at: string | null;
  /** What the container uses (lxc driver), in the detail only. */
  resources?: {
    cpu_ns: number;
    memory_bytes: number;
    memory_max: number;
    pids: number;
    disk_bytes: number;
    disk_max: number;
    oom_kills: number;
  };
  /** The latest job (create or delete), in the detail only. */
  job?: { id: number; kind: string; state: string } | null;
  /** Sharing (issue 24): true when the caller is a member, not the owner. */
  shared?: boolean;
  /** What the caller may do (sharing.ts); the owner has all eight. Absent: an older zlh-api, all. */
  permissions?: string[];
  owner?: { id: number; username: string };
  /** The stats sampler's latest (stats.ts), null or absent without one. */
  stats?: ListStats | null;
}

// GET /api/servers/{id}/members (docs/design.md §12a, sharing).
export interface Member {
  user_id: number;
  username: string;
  email: string;
  permissions: string[];
  /** Unix seconds or ms, or an ISO string. */
  added_at: number | string | null;
}

// POST /api/servers/{id}/transfer: the owner's pending offer.
export interface TransferOffer {
  server_id: number;
  to_user_id: number;
  to_username: string;
  expires_at: number | string | null;
}

// GET /api/transfers: offers made to the caller.
export interface IncomingTransfer {
  server_id: number;
  server_name: string;
  from_username: string;
  expires_at: number | string | null;
}

// GET /api/servers/{id}/activity (docs/design.md §12a).
export interface ActivityEntry {
  id: number;
  /** Unix seconds. */
  at: number;
  action: string;
  actor: { id: number; username: string } | null;
  remote_addr: string | null;
  detail: Record<string, unknown> | null;
}

export interface ActivityPage {
  activity: ActivityEntry[];
  /** Pass as ?before= for the next (older) page; null at the end. */
  next_before: number | null;
}

export interface JobStep {
  name: string;
  state: string;
  detail: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Job {
  id: number;
  server_id: number;
  kind: string;
  state: string;
  error: string | null;
  steps: JobStep[];
}

export interface CatalogVersion {
  version: string;
  default: boolean;
  channel: string;
  java?: string;
}

export interface DevCatalog {
  runtimes: { id: string; display: string; versions: CatalogVersion[] }[];
  addons: { id: string; display: string; versions: CatalogVersion[] }[];
}

export interface GameCatalog {
  games: { id: string; variants: { id: string; mods: boolean; versions: CatalogVersion[] }[] }[];
}

export interface FileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | string;
  size: number;
  mtime: number;
  mode: string;
}

export interface Mod {
  id: string;
  file: string;
  enabled: boolean;
  size: number;
  sha256: string;
}

// GET /api/servers/{id}/backups (docs/design.md, backups).
export interface Backup {
  id: number;
  name: string;
  kind: 'manual' | 'scheduled' | 'pre_restore' | string;
  state: 'creating' | 'ready' | 'failed' | 'restoring' | string;
  size: number | null;
  sha256: string | null;
  /** Unix milliseconds. */
  created_at: number;
  error: string | null;
}

export interface BackupList {
  backups: Backup[];
  /** limit_bytes 0 or null: no quota. */
  quota: { used_bytes: number; limit_bytes: number | null };
  /** Retention: the last `keep` backups are kept (0 or null: no limit). */
  keep: number | null;
}

export type TaskAction = 'command' | 'power' | 'backup';

export interface ScheduleTask {
  action: TaskAction;
  /** command: the console line; power: start|stop|restart; backup: null. */
  payload: string | null;
  /** Seconds after the previous task started (>= 0). */
  offset_s: number;
}

export interface ScheduleRun {
  id: number;
  /** The fire time this run is for (unix ms). */
  fire_time: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  state: 'running' | 'ok' | 'failed' | 'skipped' | string;
  error: string | null;
  tasks: { action: string; state: string; error: string | null }[];
}

export interface ScheduleBody {
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  catch_up: boolean;
  only_when_running: boolean;
  tasks: ScheduleTask[];
}

export interface Schedule extends ScheduleBody {
  id: number;
  /** Unix ms, null when disabled or never. */
  next_run_at: number | null;
  last_runs: ScheduleRun[];
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
    public requestId?: string,
  ) {
    super(message);
  }
}

// The message a user reads: a server-side failure (5xx) names the request
// id, which the operator's logs carry with the detail kept out of the
// error (host paths, upstream addresses: docs/security.md, L7).
export function shownMessage(status: number, message: string, requestId?: string): string {
  return status >= 500 && requestId ? `${message} (reference ${requestId})` : message;
}

// An error body {"error":{code,message,field?,request_id?}} as an ApiError.
export function errorFromBody(status: number, body: unknown, headerId?: string | null): ApiError {
  let code = 'E_HTTP';
  let message = status ? `request failed (${status})` : 'network error';
  let field: string | undefined;
  let requestId = headerId || undefined;
  const e = (body as { error?: Record<string, unknown> } | null)?.error;
  if (e && typeof e === 'object') {
    code = String(e.code ?? code);
    message = String(e.message ?? message);
    if (typeof e.field === 'string' && e.field) field = e.field;
    if (typeof e.request_id === 'string' && e.request_id) requestId = e.request_id;
  }
  return new ApiError(status, code, shownMessage(status, message, requestId), field, requestId);
}

// Called on any 401 so the app can drop the user and show the login page.
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export function csrfHeaders(method: string): Record<string, string> {
  return STATE_CHANGING.has(method.toUpperCase()) ? { 'X-ZLH-CSRF': '1' } : {};
}

export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: keep the status text */
  }
  return errorFromBody(res.status, body, res.headers.get('X-Request-Id'));
}

export function errorFromXhr(xhr: XMLHttpRequest): ApiError {
  let body: unknown = null;
  try {
    body = JSON.parse(xhr.responseText);
  } catch {
    /* fall through */
  }
  return errorFromBody(xhr.status, body, xhr.getResponseHeader('X-Request-Id'));
}

export interface RequestOptions {
  body?: unknown; // JSON-encoded unless it is a string/Blob
  raw?: boolean; // return the Response itself
  signal?: AbortSignal;
  quiet401?: boolean; // do not trigger the global logout on 401
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...csrfHeaders(method) };
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string' || opts.body instanceof Blob) {
      body = opts.body as BodyInit;
      headers['Content-Type'] = 'application/octet-stream';
    } else {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'E_NETWORK', 'cannot reach the server; check your connection');
  }
  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (res.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized();
    throw err;
  }
  if (opts.raw) return res as unknown as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts);
export const post = <T>(path: string, body?: unknown, opts?: RequestOptions) =>
  request<T>('POST', path, { ...opts, body });

const enc = encodeURIComponent;

/** A user named by email (has an @) or by username, as the sharing routes take it. */
export function whoBody(who: string): { email: string } | { username: string } {
  const w = who.trim();
  return w.includes('@') ? { email: w } : { username: w };
}

export const api = {
  me: () => get<{ user: User }>('/api/auth/me', { quiet401: true }),
  login: (identifier: string, password: string) =>
    post<{ user: User }>('/api/auth/login', { identifier, password }, { quiet401: true }),
  register: (email: string, username: string, password: string, invite?: string) =>
    post<{ user: User }>('/api/auth/register', invite ? { email, username, password, invite } : { email, username, password }, {
      quiet401: true,
    }),
  logout: () => post<unknown>('/api/auth/logout', undefined, { quiet401: true }),

  servers: () => get<{ servers: Server[] }>('/api/servers'),
  server: (id: string | number) => get<Server>(`/api/servers/${id}`),
  create: (body: Record<string, unknown>) => post<{ id: number; job: number; server: Server }>('/api/servers', body),
  remove: (id: number) => request<{ id: number; job: number }>('DELETE', `/api/servers/${id}`),
  power: (id: number, action: string) => post<unknown>(`/api/servers/${id}/${action}`),
  job: (id: number) => get<Job>(`/api/jobs/${id}`),
  devCatalog: () => get<DevCatalog>('/api/catalog/dev'),
  gameCatalog: () => get<GameCatalog>('/api/catalog/game'),

  list: (id: number, path: string) => get<FileEntry[]>(`/api/servers/${id}/files/list?path=${enc(path)}`),
  readText: async (id: number, path: string) => {
    const res = await request<Response>('GET', `/api/servers/${id}/files/read?path=${enc(path)}`, { raw: true });
    return res.text();
  },
  write: (id: number, path: string, text: string) =>
    request<unknown>('PUT', `/api/servers/${id}/files/write?path=${enc(path)}`, { body: text }),
  mkdir: (id: number, path: string) => post<unknown>(`/api/servers/${id}/files/mkdir`, { path }),
  rename: (id: number, from: string, to: string) => post<unknown>(`/api/servers/${id}/files/rename`, { from, to }),
  del: (id: number, paths: string[]) => post<unknown>(`/api/servers/${id}/files/delete`, { paths }),
  downloadUrl: (id: number, path: string) => `/api/servers/${id}/files/download?path=${enc(path)}`,

  mods: async (id: number) => {
    const res = await request<Response>('GET', `/api/servers/${id}/mods`, { raw: true });
    const mods = (await res.json()) as Mod[];
    return { mods, restartRequired: res.headers.get('X-ZLH-Restart-Required') === 'true' };
  },
  installMod: (id: number, artifact: string, sha256: string) =>
    post<{ restart_required?: boolean }>(`/api/servers/${id}/mods/install`, { artifact, sha256 }),
  setMod: (id: number, mod: string, enable: boolean) =>
    post<{ restart_required?: boolean }>(`/api/servers/${id}/mods/${enc(mod)}/${enable ? 'enable' : 'disable'}`),
  deleteMod: (id: number, mod: string) =>
    request<{ restart_required?: boolean }>('DELETE', `/api/servers/${id}/mods/${enc(mod)}`),

  backups: (id: number) => get<BackupList>(`/api/servers/${id}/backups`),
  createBackup: (id: number, name?: string) =>
    post<{ backup: Backup; job: Job }>(`/api/servers/${id}/backups`, name ? { name } : {}),
  restoreBackup: (id: number, backup: number) => post<{ job: Job }>(`/api/servers/${id}/backups/${backup}/restore`),
  deleteBackup: (id: number, backup: number) => request<unknown>('DELETE', `/api/servers/${id}/backups/${backup}`),
  backupDownloadUrl: (id: number, backup: number) => `/api/servers/${id}/backups/${backup}/download`,

  schedules: (id: number) => get<{ schedules: Schedule[] }>(`/api/servers/${id}/schedules`),
  createSchedule: (id: number, body: ScheduleBody) => post<Schedule>(`/api/servers/${id}/schedules`, body),
  updateSchedule: (id: number, schedule: number, patch: Partial<ScheduleBody>) =>
    request<Schedule>('PATCH', `/api/servers/${id}/schedules/${schedule}`, { body: patch }),
  deleteSchedule: (id: number, schedule: number) => request<unknown>('DELETE', `/api/servers/${id}/schedules/${schedule}`),
  runSchedule: (id: number, schedule: number) => post<{ run: ScheduleRun }>(`/api/servers/${id}/schedules/${schedule}/run`),

  stats: (id: number) => get<unknown>(`/api/servers/${id}/stats`),

  // Sharing: owner only, except leaving (a member removes themselves).
  members: (id: number) => get<{ members: Member[] }>(`/api/servers/${id}/members`),
  addMember: (id: number, who: string, permissions: string[]) =>
    post<{ member: Member }>(`/api/servers/${id}/members`, { ...whoBody(who), permissions }),
  updateMember: (id: number, user: number, permissions: string[]) =>
    request<{ member: Member }>('PATCH', `/api/servers/${id}/members/${user}`, { body: { permissions } }),
  removeMember: (id: number, user: number) => request<{ removed: number }>('DELETE', `/api/servers/${id}/members/${user}`),
  offerTransfer: (id: number, who: string) => post<{ transfer: TransferOffer }>(`/api/servers/${id}/transfer`, whoBody(who)),
  cancelTransfer: (id: number) => request<unknown>('DELETE', `/api/servers/${id}/transfer`),
  transferOf: (id: number) => get<{ transfer: TransferOffer | null }>(`/api/servers/${id}/transfer`),
  transfers: () => get<{ transfers: IncomingTransfer[] }>('/api/transfers'),
  acceptTransfer: (id: number) => post<{ server: Server }>(`/api/transfers/${id}/accept`),

  activity: (id: number, before?: number | null, limit?: number) => {
    const q = new URLSearchParams();
    if (before !== undefined && before !== null) q.set('before', String(before));
    if (limit !== undefined) q.set('limit', String(limit));
    const qs = q.toString();
    return get<ActivityPage>(`/api/servers/${id}/activity${qs ? `?${qs}` : ''}`);
  },

  tailscaleEnable: (id: number) => post<TailscaleAccess>(`/api/servers/${id}/tailscale`),
  tailscaleDisable: (id: number) => request<unknown>('DELETE', `/api/servers/${id}/tailscale`),

  // A fresh one-time ticket URL for the IDE (no port) or a port preview on
  // the IDE origin. Single use, 60 s: ask right before navigating, never keep
  // it. 409 E_CONFLICT (no running container, code-server not enabled),
  // 400 E_INVALID (port), 503 E_UNAVAILABLE (no IDE origin configured).
  ideTicket: (id: number, port?: number) =>
    post<IdeTicket>(`/api/servers/${id}/ide-ticket`, port === undefined ? {} : { port }),
  // The container's listening TCP ports that can be previewed. 409
  // E_CONFLICT when no container runs, 502 when its agent does not answer.
  ports: (id: number) => get<{ ports: number[] }>(`/api/servers/${id}/ports`),
};

// POST /api/servers/{id}/ide-ticket: `url` is absolute, on the IDE origin,
// and carries the ticket (`?zlh_ticket=…`).
export interface IdeTicket {
  url: string;
  expires_in: number;
}

// POST /api/servers/{id}/tailscale (src/api/tailscale/access.cpp).
export interface TailscaleAccess {
  server_id: number;
  hostname: string;
  login_server: string;
  headscale_user: string;
  device: { authkey: string; key_id: string; expires_at: string; reusable: boolean; ephemeral: boolean };
  container: { hostname: string; addon: string; version: string | null };
  instructions: { tailscale_up: string; find_ip: string; ssh: string; vscode: string; text: string };
  constraints: string[];
  shown_once: boolean;
}

// Multipart upload with progress (fetch has no upload progress).
export function upload(
  url: string,
  files: File[],
  onProgress: (loaded: number, total: number) => void,
): { promise: Promise<unknown>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<unknown>((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append('file', f, f.name);
    xhr.open('POST', url);
    xhr.setRequestHeader('X-ZLH-CSRF', '1');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          resolve(null);
        }
      } else {
        if (xhr.status === 401 && onUnauthorized) onUnauthorized();
        reject(errorFromXhr(xhr));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'E_NETWORK', 'upload failed: network error'));
    xhr.onabort = () => reject(new ApiError(0, 'E_ABORTED', 'upload cancelled'));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

// What the badge shows: the agent's state once the server is ready
// (running, stopped, crashed, …), else the control plane's (provisioning,
// error, deleting).
export function displayState(s: Server): string {
  if (s.state === 'ready' && s.agent_state) return s.agent_state;
  return s.state;
}

export function describe(s: Server): string {
  const sp = s.spec || {};
  if (s.type === 'dev') return [sp.runtime, sp.version].filter(Boolean).join(' ');
  return [sp.game, sp.variant, sp.version].filter(Boolean).join(' / ');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}
