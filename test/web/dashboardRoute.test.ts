import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, tempDir } from '../helpers/stores.js';
import { http, startHarness, type Harness } from '../http/harness.js';

describe('the dashboard route', () => {
  describe('without a build', () => {
    let h: Harness;
    const dir = tempDir();
    before(async () => {
      h = await startHarness(BACKENDS[0], { dashboardRoot: join(dir, 'missing') });
    });
    after(async () => {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('starts and says at / how to build the dashboard; the API is unaffected', async () => {
      const r = await http(`${h.url}/`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.match(r.text, /dashboard is not built/);
      assert.equal((await http(`${h.url}/healthz`)).status, 200);
    });
  });

  describe('with a build', () => {
    let h: Harness;
    let root: string;
    before(async () => {
      root = tempDir();
      mkdirSync(join(root, 'assets'));
      writeFileSync(join(root, 'index.html'), '<!doctype html><title>Vigil</title><script type="module" src="/assets/app-1.js"></script>');
      writeFileSync(join(root, 'assets', 'app-1.js'), 'console.log(1)');
      writeFileSync(join(root, 'sw.js'), 'self.addEventListener("push", () => {})');
      h = await startHarness(BACKENDS[0], { dashboardRoot: root });
    });
    after(async () => {
      await h.close();
      rmSync(root, { recursive: true, force: true });
    });

    it('serves index.html at / with a Content-Security-Policy, revalidated on each load', async () => {
      const r = await http(`${h.url}/`);
      assert.equal(r.status, 200);
      assert.match(r.text, /<title>Vigil<\/title>/);
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
    });

    it('caches hashed assets for a year and serves the service worker for the whole origin', async () => {
      const a = await http(`${h.url}/assets/app-1.js`);
      assert.equal(a.status, 200);
      assert.match(a.headers.get('cache-control') ?? '', /immutable/);
      const sw = await http(`${h.url}/sw.js`);
      assert.equal(sw.status, 200);
      assert.equal(sw.headers.get('service-worker-allowed'), '/');
    });

    it('sends the links notifications carry to the dashboard page for them', async () => {
      const i = await http(`${h.url}/interventions/0190a5c2-7e1a-7000-8000-000000000001`);
      assert.equal(i.status, 302);
      assert.equal(i.headers.get('location'), '/#/interventions?id=0190a5c2-7e1a-7000-8000-000000000001');
      const t = await http(`${h.url}/tasks/task%2012/review`);
      assert.equal(t.status, 302);
      assert.equal(t.headers.get('location'), '/#/events?task_id=task%2012');
    });

    it('needs no key, and leaves the API its own 404s', async () => {
      const r = await http(`${h.url}/v1/nothing-here`);
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 40401);
      assert.equal((await http(`${h.url}/not-a-file.js`)).body.code, 40401);
    });
  });
});
