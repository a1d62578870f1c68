import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import type { ApiDeps } from '../app';
import { parseId } from '../validation';

/**
 * `GET /runs/:runId`: a live page of one run, one HTML file with its script and style inline, no
 * build step. The page holds no data: its script reads the API key from the URL fragment (never
 * sent to a server) or a form, keeps it in sessionStorage, and reads the run's event stream from
 * the authenticated API with fetch() (EventSource cannot send an Authorization header).
 */

const TEMPLATE = readFileSync(path.join(__dirname, 'run-page.html'), 'utf8');

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function runPageRoutes(deps: Pick<ApiDeps, 'config'>) {
  const router = Router();
  router.get('/runs/:runId', (req, res) => {
    const runId = parseId(req.params.runId, 'run');
    // A fresh nonce per response: only the page's own inline script and style run.
    const nonce = randomBytes(16).toString('base64');
    const settings = { runId, temporalUiUrl: deps.config.temporalUiUrl, namespace: deps.config.temporal.namespace };
    res
      .status(200)
      .set({
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Security-Policy': [
          "default-src 'none'",
          `script-src 'nonce-${nonce}'`,
          `style-src 'nonce-${nonce}'`,
          "connect-src 'self'",
          "img-src 'self' data:",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; '),
      })
      .send(TEMPLATE.replaceAll('{{NONCE}}', nonce).replace('{{SETTINGS}}', () => scriptJson(settings)));
  });
  return router;
}
