import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// .ci/run installs Chromium, so CI always opens the page in a browser. Without one (a
// developer's machine), the page and every asset it names are still checked over HTTP.
const hasBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);

describe('API reference page', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.close();
  });

  it('is served with all its assets by this server', async () => {
    const page = await fetch(`${server.url}/docs/`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length > 0, 'the page names its assets');
    for (const asset of assets) {
      assert.ok(!/^(https?:)?\/\//.test(asset), `${asset} is not fetched from elsewhere`);
      const response = await fetch(new URL(asset, `${server.url}/docs/`));
      assert.equal(response.status, 200, asset);
    }
  });

  it('renders every endpoint in a real browser, without console errors', async (t) => {
    if (!hasBrowser) {
      t.diagnostic(`${CHROMIUM} is missing: the browser check runs where it is installed (CI installs it)`);
      return;
    }
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    t.after(() => browser.close());
    const page = await browser.newPage();
    const errors: string[] = [];
    const elsewhere: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
    page.on('pageerror', (err) => errors.push(err.message));
    // Offline: anything not asked of this server is refused and noted.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });

    const response = await page.goto(`${server.url}/docs`);
    assert.equal(response?.status(), 200);
    await page.getByText('/v1/queues/{queue_id}/messages', { exact: true }).first().waitFor({ timeout: 15_000 });
    for (const path of ['/v1/queues', '/v1/api_keys', '/v1/queues/{queue_id}/schedules', '/metrics', '/v1/ready']) {
      assert.ok((await page.getByText(path, { exact: true }).count()) > 0, `${path} is listed`);
    }
    assert.equal(await page.locator('.info .title').first().textContent().then((t) => t?.startsWith('discue')), true);
    assert.ok((await page.getByRole('button', { name: /Authorize/ }).count()) > 0, 'the api key can be entered');
    if (process.env.DISCUE_DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DISCUE_DOCS_SCREENSHOT, fullPage: false });
    assert.deepEqual(elsewhere, [], 'requests beyond this server');
    assert.deepEqual(errors, [], 'console errors');
  });
});
