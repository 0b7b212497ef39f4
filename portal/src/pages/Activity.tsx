// The Activity tab (docs/portal.md "Activity"): who did what to this
// server, newest first, older pages on demand (GET …/activity?before=).
import { useEffect, useState } from 'preact/hooks';
import { api, type ActivityEntry, type Server } from '../api';
import { PAGE_SIZE, actionText, actorText, appendPage, detailText, fmtAt } from '../activity';
import { Alert, errorText } from '../components';

export function Activity({ server }: { server: Server }) {
  const [entries, setEntries] = useState<ActivityEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // The newest page; "Refresh" loads it again (older pages are dropped).
  const loadFirst = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.activity(server.id, null, PAGE_SIZE);
      setEntries(r.activity);
      setNext(r.next_before);
    } catch (e) {
      setError(`Loading the activity failed: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const loadMore = async () => {
    if (next === null) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.activity(server.id, next, PAGE_SIZE);
      setEntries((have) => appendPage(have ?? [], r.activity));
      setNext(r.next_before);
    } catch (e) {
      setError(`Loading older activity failed: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    loadFirst();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [server.id]);

  return (
    <section class="card activity" aria-labelledby="activity-h">
      <div class="card-head">
        <h2 id="activity-h">Activity</h2>
        <button type="button" class="btn btn-small" disabled={busy} onClick={loadFirst}>
          Refresh
        </button>
      </div>
      <Alert error={error} />
      {entries === null && !error && <p class="muted">Loading…</p>}
      {entries && entries.length === 0 && <p class="muted">Nothing recorded yet.</p>}
      {entries && entries.length > 0 && (
        <table class="server-table activity-table" data-testid="activity-table">
          <caption class="sr-only">What was done to this server, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">From</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => {
              const detail = detailText(e.detail);
              return (
                <tr key={e.id} data-testid={`activity-${e.id}`} data-action={e.action}>
                  <td data-label="When">{fmtAt(e.at)}</td>
                  <td data-label="Who" class={e.actor ? undefined : 'muted'}>
                    {actorText(e)}
                  </td>
                  <td data-label="From" class="mono small">
                    {e.remote_addr || '—'}
                  </td>
                  <td data-label="What">
                    <span title={e.action}>{actionText(e.action)}</span>
                    {detail && <span class="mono small activity-detail"> {detail}</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next !== null && (
        <button type="button" class="btn" disabled={busy} onClick={loadMore}>
          {busy ? 'Loading…' : 'Load older'}
        </button>
      )}
    </section>
  );
}
