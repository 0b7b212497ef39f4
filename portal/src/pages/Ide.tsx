// The IDE tab. code-server runs on its own origin (docs/design.md §10.4), so it is
// never framed here: "Open IDE" hands off to a new tab through a one-time
// ticket. The IDE origin sends a browser without its cookie back to
// ?open=1[&port=<n>], which asks for a ticket at once and replaces this page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Server } from '../api';
import { Alert } from '../components';
import { autoOpenKey, noteAutoOpen, parsePreviewPort, sessionStore, useIdeHandoff } from '../ide';
import { navigate } from '../router';

export function Ide({ server, search }: { server: Server; search: URLSearchParams }) {
  const port = parsePreviewPort(search.get('port'));
  const auto = search.get('open') === '1';
  const handoff = useIdeHandoff(server);
  const [looping, setLooping] = useState(false);
  const started = useRef(false);
  const hasIde = !!server.ide_url;
  const base = `/servers/${server.id}/ide`;
  const here = port === undefined ? base : `${base}?port=${port}`;

  useEffect(() => {
    if (!auto || started.current) return;
    started.current = true;
    if (!noteAutoOpen(sessionStore(), autoOpenKey(server.id, port), Date.now())) {
      setLooping(true);
      navigate(here, { replace: true });
      return;
    }
    handoff.replace(port).then((err) => {
      // Failed: drop open=1 so Back or a reload does not hand off again by
      // itself. On 401 the app is already on its way to the login page,
      // whose next= brings the user back to the ?open=1 URL.
      if (err && !(err instanceof ApiError && err.status === 401) && window.location.pathname === base)
        navigate(here, { replace: true });
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [auto]);

  const what = port === undefined ? 'the IDE' : `port ${port}`;
  return (
    <section class="card ide-card" aria-labelledby="ide-h">
      <h2 id="ide-h">{hasIde || port !== undefined ? 'Browser IDE' : 'No IDE for this server'}</h2>
      {hasIde || port !== undefined ? (
        <p>
          VS Code (code-server) and port previews run on their own origin, apart from the portal, and open in a new tab.
          Each open asks for a one-time link that is valid for 60 seconds.
        </p>
      ) : (
        <p>
          {server.type !== 'dev'
            ? 'The browser IDE is only available on dev servers.'
            : server.spec.enable_code_server
              ? 'The IDE becomes available once the container is running.'
              : 'code-server was not enabled when this server was created.'}
        </p>
      )}
      {handoff.busy !== null && auto && (
        <p class="muted" role="status">
          Opening {what}…
        </p>
      )}
      {looping && (
        <div class="alert alert-warn" role="alert">
          The IDE origin sent this tab back several times in a row, so it was not opened again automatically. Its
          cookie may be blocked by the browser; use the button to try once more.
        </div>
      )}
      <Alert error={handoff.error} />
      {(hasIde || port !== undefined) && (
        <div class="btn-row">
          {hasIde && (
            <button
              type="button"
              class={`btn ${port === undefined ? 'btn-primary' : ''}`}
              disabled={handoff.busy !== null}
              onClick={() => handoff.open()}
            >
              Open IDE
            </button>
          )}
          {port !== undefined && (
            <button
              type="button"
              class="btn btn-primary"
              disabled={handoff.busy !== null}
              onClick={() => handoff.open(port)}
            >
              Open port {port}
            </button>
          )}
        </div>
      )}
    </section>
  );
}
