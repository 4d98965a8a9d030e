/** Every scenario the package ships must load: users copy them, the demo and the docs run them. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';

const dir = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

describe('scenarios/', () => {
  it('ships the lab, Spring Security form login and JSON API login scenarios', () => {
    expect(files).toEqual(expect.arrayContaining(['lab.yaml', 'spring-form-login.yaml', 'json-api-login.yaml']));
  });

  it.each(files)('%s loads and logs in before its flow', (file) => {
    const s = loadScenario(join(dir, file));
    expect(s.login.length).toBeGreaterThan(0);
    expect(s.flow.length).toBeGreaterThan(0);
    expect(s.users.length).toBeGreaterThan(0);
    expect(s.session.loginPath).not.toBeNull();
  });

  it('rollout.yaml carries the whole test: stages, a restart event that stops the run if it fails, thresholds', () => {
    const s = loadScenario(join(dir, 'rollout.yaml'));
    expect(s.load.stages).toEqual([
      { durationMs: 5000, target: 20 },
      { durationMs: 20_000, target: 20 },
      { durationMs: 5000, target: 0 },
    ]);
    expect(s.load.events).toEqual([{ atMs: 10_000, command: 'curl -fsS -o /dev/null -X POST http://127.0.0.1:8080/_lab/restart/1', stopOnFailure: true }]);
    expect(s.thresholds.map((t) => t.expression)).toEqual(['retention>=99%', 'p99<500ms']);
  });

  it('spring-form-login posts username, password and the extracted _csrf to /login', () => {
    const s = loadScenario(join(dir, 'spring-form-login.yaml'));
    expect(s.session.loginPath).toBe('/login');
    const [form, post] = s.login;
    expect(form!.method).toBe('GET');
    expect(form!.extract.map((x) => [x.name, x.kind])).toEqual([['csrf', 'input']]);
    expect(post!.method).toBe('POST');
    expect(post!.body.kind).toBe('form');
    if (post!.body.kind === 'form') expect(post!.body.fields.map(([k]) => k)).toEqual(['username', 'password', '_csrf']);
    expect(post!.followRedirects).toBe(false); // the 302 itself is checked
  });

  it('json-api-login extracts a token and sends it as a Bearer header; 401 is a loss', () => {
    const s = loadScenario(join(dir, 'json-api-login.yaml'));
    expect([...s.session.lostStatus]).toEqual([401]);
    expect(s.login[0]!.body.kind).toBe('json');
    expect(s.login[0]!.extract).toEqual([{ name: 'token', kind: 'json', path: ['token'] }]);
    for (const step of s.flow) expect(step.headers.map(([k, v]) => [k, v.source])).toEqual([['authorization', 'Bearer {{token}}']]);
  });
});
