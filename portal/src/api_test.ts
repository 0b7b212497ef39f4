// Unit tests of the portal's error handling (run by `npm test`,
// scripts/unit.mjs): each export of `tests` throws on failure.
import { errorFromBody, shownMessage } from './api';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

export const tests = {
  // L7: a server-side failure names the request id the logs carry.
  serverFailuresNameTheRequestId() {
    const e = errorFromBody(502, { error: { code: 'E_UPSTREAM', message: 'upstream unavailable', request_id: 'ab12' } });
    eq(e.code, 'E_UPSTREAM', 'code');
    eq(e.requestId, 'ab12', 'request id');
    eq(e.message, 'upstream unavailable (reference ab12)', 'message');
    // The header's id when the body has none.
    eq(errorFromBody(500, { error: { code: 'E_INTERNAL', message: 'internal error' } }, 'cd34').message,
      'internal error (reference cd34)', 'header id');
  },
  userErrorsStayAsTheyAre() {
    const e = errorFromBody(400, { error: { code: 'E_INVALID', message: 'bad name', field: 'name', request_id: 'x' } });
    eq([e.message, e.field, e.status], ['bad name', 'name', 400], 'a 4xx');
    eq(errorFromBody(404, 'not json').code, 'E_HTTP', 'not an error body');
    eq(errorFromBody(0, null).message, 'network error', 'no status');
    eq(shownMessage(503, 'busy'), 'busy', 'no id');
  },
};
