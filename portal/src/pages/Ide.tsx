// The in-portal IDE: a header bar and code-server (through the /dev/{vmid}/ide/ proxy) in a frame.
import type { Server } from '../api';
import { useTitle } from '../components';
import { Link } from '../router';

export function Ide({ server }: { server: Server }) {
  const name = server.name || `server-${server.id}`;
  useTitle(`${name} · IDE`);
  const url = server.ide_url;
  return (
    <main class="ide-page" id="main">
      <div class="ide-bar">
        <Link href={`/servers/${server.id}`} class="btn btn-small btn-ghost">
          ← Back to overview
        </Link>
        <h1 class="ide-title">{name}</h1>
        <span class="spacer" />
        {url && (
          <a class="btn btn-small" href={url} target="_blank" rel="noopener">
            Open in new tab
          </a>
        )}
      </div>
      {url ? (
        <iframe class="ide-frame" src={url} title={`VS Code for ${name}`} allow="clipboard-read; clipboard-write" />
      ) : (
        <div class="page narrow">
          <div class="card">
            <h2>No IDE for this server</h2>
            <p>
              {server.type !== 'dev'
                ? 'The browser IDE is only available on dev servers.'
                : server.spec.enable_code_server
                  ? 'The IDE becomes available once the container is running.'
                  : 'code-server was not enabled when this server was created.'}
            </p>
          </div>
        </div>
      )}
    </main>
  );
}
