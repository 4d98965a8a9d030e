import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../src/common/errors.js';
import { PASSWORD_INPUT_PATTERN } from '../../src/scenario/extract.js';
import { buildQuickScenario } from '../../src/scenario/quick.js';
import { loadScenario, parseScenario } from '../../src/scenario/load.js';
import { type Extractor, type Scenario } from '../../src/scenario/types.js';
import { type ScenarioFile } from '../../src/scenario/schema.js';

const EXAMPLE_YAML = `
name: lab login then browse
target: http://127.0.0.1:8080
session:
  loginPath: /login
  lostStatus: [401]
  lostBodyMatch: 'name="password"'
  servedByHeader: X-Served-By
users:
  - { username: admin, password: admin }
login:
  - get: /login
    extract:
      csrf: { regex: 'name="_csrf" value="([^"]+)"' }
  - post: /login
    form: { username: '{{username}}', password: '{{password}}', _csrf: '{{csrf}}' }
    expect: { status: 302, location: /home }
flow:
  - get: /home
  - get: /owners/{{vu}}
    think: 500ms
  - get: /api/me
    expect: { status: 200 }
`;

const example = (): Record<string, unknown> => parseYaml(EXAMPLE_YAML) as Record<string, unknown>;

/** The ConfigError thrown by `fn`; fails the test when nothing or something else is thrown. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.exitCode).toBe(2);
    expect(e.issues.length).toBeGreaterThan(0);
    return e;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const issueAt = (e: ConfigError, path: string): ConfigIssue | undefined => e.issues.find((i) => i.path === path);

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sb-scenario-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('parseScenario: invalid scenarios', () => {
  const base = { target: 'http://127.0.0.1:8080', flow: [{ get: '/' }] };
  it.each<[string, unknown, string, RegExp]>([
    ['unknown step key', { ...base, flow: [{ get: '/' }, { gett: '/x' }] }, 'flow[1]', /unknown key "gett"/],
    ['unknown extra step key', { ...base, flow: [{ get: '/x', foo: 1 }] }, 'flow[0]', /unknown key "foo"/],
    ['unknown key in login', { ...base, login: [{ get: '/login', expekt: {} }] }, 'login[0]', /unknown key "expekt"/],
    ['unknown top-level key', { ...base, flows: [] }, '(root)', /unknown key "flows"/],
    ['unknown session key', { ...base, session: { lostStatuses: [401] } }, 'session', /unknown key "lostStatuses"/],
    ['bad step duration', { ...base, flow: [{ get: '/', think: '3 parsecs' }] }, 'flow[0].think', /invalid duration "3 parsecs"/],
    ['bad top-level duration', { ...base, think: 'soon' }, 'think', /invalid duration "soon"/],
    ['negative number duration', { ...base, think: -5 }, 'think', /invalid duration/],
    ['bad extract regex', { ...base, login: [{ get: '/login', extract: { csrf: { regex: '([a-z' } } }] }, 'login[0].extract.csrf.regex', /invalid regular expression "\(\[a-z"/],
    ['bad expect.bodyMatch regex', { ...base, flow: [{ get: '/', expect: { bodyMatch: '*x' } }] }, 'flow[0].expect.bodyMatch', /invalid regular expression/],
    ['bad session.lostBodyMatch regex', { ...base, session: { lostBodyMatch: '(' } }, 'session.lostBodyMatch', /invalid regular expression/],
    ['status out of range', { ...base, flow: [{ get: '/', expect: { status: 700 } }] }, 'flow[0].expect.status', /^expected a status 100-599, got 700$/],
    ['status in a list out of range', { ...base, flow: [{ get: '/', expect: { status: [200, 99] } }] }, 'flow[0].expect.status[1]', /^expected a status 100-599, got 99$/],
    ['lostStatus out of range', { ...base, session: { lostStatus: [401, 1000] } }, 'session.lostStatus[1]', /^expected a status 100-599, got 1000$/],
    ['two methods', { ...base, flow: [{ get: '/', post: '/' }] }, 'flow[0]', /exactly one method, got get and post/],
    ['no method', { ...base, flow: [{ name: 'nothing' }] }, 'flow[0]', /needs one of get, post/],
    ['two bodies', { ...base, flow: [{ post: '/', form: { a: 1 }, body: 'x' }] }, 'flow[0]', /only one of form, json, body; got form and body/],
    ['missing flow', { target: base.target }, 'flow', /required \(array\)/],
    ['empty flow', { ...base, flow: [] }, 'flow', /too small|>=1/i],
    ['unknown variable in a path', { ...base, flow: [{ get: '/owners/{{nope}}' }] }, 'flow[0].get', /unknown variable \{\{nope\}\}.*vu/],
    ['unknown variable in a form field', { ...base, flow: [{ post: '/x', form: { a: '{{nope}}' } }] }, 'flow[0].form.a', /unknown variable \{\{nope\}\}/],
    ['unknown variable in a header', { ...base, flow: [{ get: '/', headers: { 'X-Token': '{{tok}}' } }] }, 'flow[0].headers.X-Token', /\{\{tok\}\}/],
    ['unknown variable in a raw body', { ...base, flow: [{ post: '/', body: 'a={{nope}}' }] }, 'flow[0].body', /\{\{nope\}\}/],
    ['unknown variable in a json body', { ...base, flow: [{ post: '/', json: { a: ['{{nope}}'] } }] }, 'flow[0].json', /\{\{nope\}\}/],
    ['step path without a slash', { ...base, flow: [{ get: 'home' }] }, 'flow[0].get', /starting with \/ or an http\(s\) URL, got "home"/],
    ['session.loginPath without a slash', { ...base, session: { loginPath: 'login' } }, 'session.loginPath', /starting with \//],
    ['target without a scheme', { ...base, target: 'localhost:8080' }, 'target', /http:\/\/ or https:\/\/ URL, got "localhost:8080"/],
    ['target with another scheme', { ...base, target: 'ftp://example.test/' }, 'target', /http:\/\/ or https:\/\//],
    ['target not a URL', { ...base, target: 'not a url' }, 'target', /got "not a url"/],
    ['missing users file (object form)', { ...base, users: { file: 'nope.csv' } }, 'users.file', /cannot read users file ".*nope\.csv" \(ENOENT\)/],
    ['missing users file (list form)', { ...base, users: [{ username: 'a', password: 'b' }, { file: 'nope.csv' }] }, 'users[1].file', /nope\.csv.*ENOENT/],
    ['missing users file (first in list)', { ...base, users: [{ file: 'nope.csv' }] }, 'users[0].file', /nope\.csv.*ENOENT/],
    ['data that is not an object', 'just a string', '(root)', /expected object/],
  ])('%s -> %s', (_name, data, path, message) => {
    const e = configError(() => parseScenario(data, 'test.yaml', tempDir()));
    const issue = issueAt(e, path);
    expect(issue, `issues: ${JSON.stringify(e.issues)}`).toBeDefined();
    expect(issue!.message).toMatch(message);
    expect(e.source).toBe('test.yaml');
    expect(e.message).toContain('test.yaml is invalid');
    expect(e.message).toContain(`${path}: `);
  });

  it('reports every field-level problem of a file at once', () => {
    const data = {
      think: 'later',
      session: { lostBodyMatch: '(' },
      login: [{ get: '/login', extract: { csrf: { regex: '[' } } }],
      flow: [
        { get: '/a', think: '3 parsecs' },
        { get: '/b', expect: { status: 700, bodyMatch: '*' } },
      ],
    };
    const e = configError(() => parseScenario(data, 'many.yaml', tempDir()));
    expect(e.issues.map((i) => i.path).sort()).toEqual(
      [
        'flow[0].think',
        'flow[1].expect.bodyMatch',
        'flow[1].expect.status',
        'login[0].extract.csrf.regex',
        'session.lostBodyMatch',
        'think',
      ].sort(),
    );
    expect(e.message.split('\n')).toHaveLength(1 + 6);
  });

  it('reports every cross-field problem of a file at once', () => {
    const data = {
      target: 'nope',
      session: { loginPath: 'login' },
      users: [{ file: 'missing.csv' }, { username: 'a', password: 'b' }, { file: 'also-missing.csv' }],
      flow: [{ get: 'home' }, { get: '/b/{{nope}}', headers: { 'X-A': '{{other}}' } }],
    };
    const e = configError(() => parseScenario(data, 'many.yaml', tempDir()));
    expect(e.issues.map((i) => i.path).sort()).toEqual(
      ['flow[0].get', 'flow[1].get', 'flow[1].headers.X-A', 'session.loginPath', 'target', 'users[0].file', 'users[2].file'].sort(),
    );
  });

  it('reports every schema problem of a file at once', () => {
    const data = { bogus: 1, flow: [{ gett: '/' }, { get: '/', post: '/' }, { get: '/', expect: { stat: 200 } }] };
    const e = configError(() => parseScenario(data, 'many.yaml'));
    expect(e.issues.length).toBeGreaterThanOrEqual(4);
    const paths = e.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['(root)', 'flow[0]', 'flow[1]', 'flow[2].expect']));
  });
});

describe('parseScenario: the example scenario', () => {
  const dir = tempDir();
  const s: Scenario = parseScenario(example(), 'example.yaml', dir);

  it('keeps the top-level fields', () => {
    expect(s.name).toBe('lab login then browse');
    expect(s.target).toBe('http://127.0.0.1:8080');
    expect(s.thinkMs).toBeNull();
    expect(s.users).toEqual([{ username: 'admin', password: 'admin' }]);
  });

  it('compiles session rules', () => {
    expect(s.session.loginPath).toBe('/login');
    expect([...s.session.lostStatus]).toEqual([401]);
    expect(s.session.lostBodyMatch).toBeInstanceOf(RegExp);
    expect(s.session.lostBodyMatch!.test('<input name="password">')).toBe(true);
    expect(s.session.servedByHeader).toBe('x-served-by');
  });

  it.each([
    ['login', 0, 0, 'GET', '/login', 'GET /login', true, null],
    ['login', 1, 1, 'POST', '/login', 'POST /login', false, null],
    ['flow', 0, 2, 'GET', '/home', 'GET /home', true, null],
    ['flow', 1, 3, 'GET', '/owners/{{vu}}', 'GET /owners/{{vu}}', true, 500],
    ['flow', 2, 4, 'GET', '/api/me', 'GET /api/me', true, null],
  ] as const)('%s[%d]: index %d, %s %s', (phase, i, index, method, url, name, follow, think) => {
    const step = s[phase][i]!;
    expect(step.phase).toBe(phase);
    expect(step.index).toBe(index);
    expect(step.method).toBe(method);
    expect(step.url.source).toBe(url);
    expect(step.name).toBe(name);
    expect(step.followRedirects).toBe(follow);
    expect(step.thinkMs).toBe(think);
  });

  it('compiles the login form, extractor and expectation', () => {
    const [get, post] = s.login;
    expect(get!.extract).toHaveLength(1);
    const x = get!.extract[0]!;
    expect(x.kind).toBe('regex');
    if (x.kind !== 'regex') throw new Error('unreachable');
    expect(x.name).toBe('csrf');
    expect(x.group).toBe(1);
    expect(x.regex.exec('<input name="_csrf" value="tok123">')?.[x.group]).toBe('tok123');

    expect(post!.body.kind).toBe('form');
    if (post!.body.kind !== 'form') throw new Error('unreachable');
    expect(post!.body.fields.map(([k, t]) => [k, t.source])).toEqual([
      ['username', '{{username}}'],
      ['password', '{{password}}'],
      ['_csrf', '{{csrf}}'],
    ]);
    expect(post!.body.fields[1]![1].usesSecret).toBe(true);
    expect([...post!.expect.statuses!]).toEqual([302]);
    expect(post!.expect.location).toBe('/home');
    expect(s.flow[2]!.expect.statuses).toEqual(new Set([200]));
    expect(s.flow[0]!.expect).toEqual({ statuses: null, location: null, bodyMatch: null });
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.session)).toBe(true);
    expect(Object.isFrozen(s.users)).toBe(true);
    expect(Object.isFrozen(s.users[0])).toBe(true);
    expect(Object.isFrozen(s.flow)).toBe(true);
    expect(Object.isFrozen(s.flow[1])).toBe(true);
    expect(Object.isFrozen(s.flow[1]!.url)).toBe(true);
    expect(Object.isFrozen(s.login[1]!.body)).toBe(true);
    expect(() => {
      (s as { name: string }).name = 'changed';
    }).toThrow(TypeError);
    expect(() => {
      (s.flow as Scenario['flow'][number][]).push(s.flow[0]!);
    }).toThrow(TypeError);
  });

  it('parses the same from a JSON file and a YAML file', () => {
    const yamlFile = join(dir, 'example.yaml');
    const jsonFile = join(dir, 'example.json');
    writeFileSync(yamlFile, EXAMPLE_YAML);
    writeFileSync(jsonFile, JSON.stringify(example()));
    const fromYaml = loadScenario(yamlFile);
    const fromJson = loadScenario(jsonFile);
    expect(fromYaml.flow.map((st) => st.name)).toEqual(s.flow.map((st) => st.name));
    expect(fromJson.flow.map((st) => st.name)).toEqual(s.flow.map((st) => st.name));
    expect(fromJson.login.map((st) => st.followRedirects)).toEqual([true, false]);
  });
});

describe('parseScenario: compiled details', () => {
  const compile = (over: Record<string, unknown>): Scenario =>
    parseScenario({ target: 'http://h.test', flow: [{ get: '/' }], ...over }, 'inline', tempDir());

  it.each<[string, Record<string, unknown>, boolean]>([
    ['no expectation', { get: '/' }, true],
    ['status 200', { get: '/', expect: { status: 200 } }, true],
    ['status 302', { get: '/', expect: { status: 302 } }, false],
    ['status list with a 3xx', { get: '/', expect: { status: [200, 303] } }, false],
    ['status 399 is 3xx', { get: '/', expect: { status: 399 } }, false],
    ['status 400 is not 3xx', { get: '/', expect: { status: 400 } }, true],
    ['location only', { get: '/', expect: { location: '/home' } }, false],
    ['explicit true wins over a 3xx expectation', { get: '/', expect: { status: 302 }, followRedirects: true }, true],
    ['explicit false', { get: '/', followRedirects: false }, false],
  ])('followRedirects: %s -> %s', (_name, step, follow) => {
    expect(compile({ flow: [step] }).flow[0]!.followRedirects).toBe(follow);
  });

  it.each<[string, Record<string, unknown>, string | null, number[]]>([
    ['no login', {}, null, []],
    ['login, no session', { login: [{ get: '/auth/login' }] }, '/auth/login', [401]],
    ['login URL with a query', { login: [{ get: 'http://h.test/auth/login?next=/' }] }, '/auth/login', [401]],
    ['login URL without a path', { login: [{ get: 'http://h.test' }] }, '/', [401]],
    ['explicit loginPath', { login: [{ get: '/auth/login' }], session: { loginPath: '/signin' } }, '/signin', [401]],
    ['explicit lostStatus', { login: [{ get: '/login' }], session: { lostStatus: [401, 403] } }, '/login', [401, 403]],
    ['explicit empty lostStatus', { login: [{ get: '/login' }], session: { lostStatus: [] } }, '/login', []],
    ['loginPath without login steps', { session: { loginPath: '/login' } }, '/login', []],
  ])('session defaults: %s', (_name, over, loginPath, lost) => {
    const s = compile(over);
    expect(s.session.loginPath).toBe(loginPath);
    expect([...s.session.lostStatus]).toEqual(lost);
    expect(s.session.servedByHeader).toBeNull();
    expect(s.session.lostBodyMatch).toBeNull();
  });

  it('numbers login steps first, then flow steps', () => {
    const s = compile({ login: [{ get: '/a' }, { post: '/b' }, { get: '/c' }], flow: [{ get: '/d' }, { delete: '/e' }] });
    expect(s.login.map((st) => [st.index, st.phase])).toEqual([[0, 'login'], [1, 'login'], [2, 'login']]);
    expect(s.flow.map((st) => [st.index, st.phase, st.method])).toEqual([[3, 'flow', 'GET'], [4, 'flow', 'DELETE']]);
  });

  it.each([
    ['get', 'GET'],
    ['post', 'POST'],
    ['put', 'PUT'],
    ['patch', 'PATCH'],
    ['delete', 'DELETE'],
    ['head', 'HEAD'],
  ] as const)('method key %s -> %s', (key, method) => {
    expect(compile({ flow: [{ [key]: '/x' }] }).flow[0]!.method).toBe(method);
  });

  it('compiles headers (lower-cased names), json and raw bodies, think times and names', () => {
    const s = compile({
      think: '1s',
      login: [{ get: '/login', extract: { tok: { header: 'X-Token' }, id: { json: '$.user.id' } } }],
      flow: [
        { name: 'me', get: '/me', headers: { 'X-Token': '{{tok}}', Accept: 'text/html', 'X-N': 5 }, think: 250 },
        { post: '/api', json: { id: '{{id}}', n: 1, list: ['{{vu}}', 'const'] } },
        { put: '/raw', body: 'v={{iteration}}' },
      ],
    });
    expect(s.thinkMs).toBe(1000);
    const [me, api, raw] = s.flow;
    expect(me!.name).toBe('me');
    expect(me!.thinkMs).toBe(250);
    expect(me!.headers.map(([k, t]) => [k, t.source])).toEqual([
      ['x-token', '{{tok}}'],
      ['accept', 'text/html'],
      ['x-n', '5'],
    ]);
    expect(api!.body.kind).toBe('json');
    if (api!.body.kind === 'json') expect([...api!.body.strings.keys()].sort()).toEqual(['{{id}}', '{{vu}}']);
    expect(raw!.body.kind).toBe('raw');
    if (raw!.body.kind === 'raw') expect(raw!.body.template.vars).toEqual(['iteration']);
    expect(s.login[0]!.extract).toEqual([
      { name: 'tok', kind: 'header', header: 'x-token' },
      { name: 'id', kind: 'json', path: ['user', 'id'] },
    ]);
  });

  it.each([
    ['a capturing group', 'value="([^"]+)"', undefined, 1],
    ['no group', 'token-[0-9]+', undefined, 0],
    ['an explicit group', '(a)(b)', 2, 2],
  ] as const)('regex extractor with %s uses group %d by default', (_name, regex, group, expected) => {
    const s = compile({ flow: [{ get: '/', extract: { v: group === undefined ? { regex } : { regex, group } } }] });
    const x = s.flow[0]!.extract[0]!;
    expect(x.kind === 'regex' && x.group).toBe(expected);
  });

  it('takes users from an inline list (numbers as passwords become strings)', () => {
    const s = compile({ users: [{ username: 'a', password: 'x' }, { username: 'b', password: 1234 }] });
    expect(s.users).toEqual([
      { username: 'a', password: 'x' },
      { username: 'b', password: '1234' },
    ]);
  });

  it('reads a users CSV file relative to the scenario directory', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'users.csv'), 'username,password\nalice,a1\nbob,b2\n');
    writeFileSync(
      join(dir, 'sub', 'scenario.yaml'),
      'target: http://h.test\nusers: { file: users.csv }\nflow:\n  - get: /\n',
    );
    writeFileSync(
      join(dir, 'sub', 'mixed.yaml'),
      'target: http://h.test\nusers:\n  - { username: root, password: r }\n  - file: ./users.csv\nflow:\n  - get: /\n',
    );
    expect(loadScenario(join(dir, 'sub', 'scenario.yaml')).users).toEqual([
      { username: 'alice', password: 'a1' },
      { username: 'bob', password: 'b2' },
    ]);
    expect(loadScenario(join(dir, 'sub', 'mixed.yaml')).users.map((u) => u.username)).toEqual(['root', 'alice', 'bob']);
    // parseScenario resolves against the baseDir it is given.
    expect(parseScenario({ flow: [{ get: '/' }], users: { file: 'users.csv' } }, 'x', join(dir, 'sub')).users).toHaveLength(2);
  });

  it('name defaults to the source, target to null', () => {
    const s = parseScenario({ flow: [{ get: 'http://h.test/' }] }, 'my-file.yaml');
    expect(s.name).toBe('my-file.yaml');
    expect(s.target).toBeNull();
  });
});

describe('loadScenario: file problems', () => {
  it('a YAML syntax error is an issue on (file)', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'flow:\n  - get: /\n    think: [unclosed\n');
    const e = configError(() => loadScenario(file));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]!.path).toBe('(file)');
    expect(e.issues[0]!.message).toMatch(/^not valid YAML: /);
    expect(e.source).toBe(file);
  });

  it('a JSON syntax error is an issue on (file)', () => {
    const file = join(tempDir(), 'bad.json');
    writeFileSync(file, '{"flow": [');
    const e = configError(() => loadScenario(file));
    expect(e.issues[0]!.path).toBe('(file)');
    expect(e.issues[0]!.message).toMatch(/^not valid JSON: /);
  });

  it.each([
    ['a missing file', (d: string) => join(d, 'missing.yaml'), 'ENOENT'],
    ['a directory', (d: string) => d, 'EISDIR'],
  ])('%s is an issue on (file)', (_name, fileOf, code) => {
    const file = fileOf(tempDir());
    const e = configError(() => loadScenario(file));
    expect(e.issues).toEqual([{ path: '(file)', message: `cannot read scenario file (${code})` }]);
  });

  it('an empty file is invalid (no flow)', () => {
    const file = join(tempDir(), 'empty.yaml');
    writeFileSync(file, '');
    const e = configError(() => loadScenario(file));
    expect(e.issues[0]!.path).toBe('(root)');
  });

  it('a semantic problem in a file carries the file name as source', () => {
    const file = join(tempDir(), 'x.yaml');
    writeFileSync(file, 'flow:\n  - get: /\n    think: 3 parsecs\n');
    const e = configError(() => loadScenario(file));
    expect(e.source).toBe(file);
    expect(e.issues).toEqual([{ path: 'flow[0].think', message: 'invalid duration "3 parsecs" (use e.g. 500ms, 30s, 2m)' }]);
  });
});

describe('buildQuickScenario', () => {
  const users = [{ username: 'u', password: 'p' }];

  it('without a login form: plain GETs of the URL', () => {
    const file = buildQuickScenario({ url: 'http://h.test:8080/app' });
    expect(file).toEqual({ name: 'GET http://h.test:8080/app', target: 'http://h.test:8080/app', flow: [{ get: 'http://h.test:8080/app', name: 'GET http://h.test:8080/app' }] });
    const s = parseScenario(file, 'quick');
    expect(s.login).toEqual([]);
    expect(s.session.loginPath).toBeNull();
    expect(s.session.lostStatus.size).toBe(0);
    expect(s.flow).toHaveLength(1);
    expect(s.flow[0]!.url.source).toBe('http://h.test:8080/app');
    expect(s.flow[0]!.followRedirects).toBe(true);
  });

  it('with navigation paths', () => {
    // Paths are relative to the URL, as in a browser: /a from the origin, c from the URL's folder.
    const file = buildQuickScenario({ url: 'http://h.test/app/page', nav: ['/a', '/b/{{vu}}', 'c'] });
    const s = parseScenario(file, 'quick');
    expect(s.flow.map((st) => st.url.source)).toEqual(['http://h.test/a', 'http://h.test/b/{{vu}}', 'http://h.test/app/c']);
    expect(s.flow.map((st) => st.name)).toEqual(['GET /a', 'GET /b/{{vu}}', 'GET c']);
  });

  it('with a login form: GET the form, POST it with hidden inputs, no redirect following', () => {
    const file: ScenarioFile = buildQuickScenario({
      url: 'http://h.test',
      loginForm: '/login',
      nav: ['/home', '/owners'],
      servedByHeader: 'X-Backend',
    });
    const s = parseScenario({ ...file, users }, 'quick');
    expect(s.users).toEqual(users);
    expect(s.login.map((st) => st.name)).toEqual(['GET /login', 'POST /login']);
    expect(s.login.map((st) => `${st.method} ${st.url.source}`)).toEqual(['GET http://h.test/login', 'POST http://h.test/login']);
    const post = s.login[1]!;
    expect(post.hiddenInputs).toBe(true);
    expect(post.followRedirects).toBe(false);
    expect(post.body.kind === 'form' && post.body.fields.map(([k, t]) => [k, t.source])).toEqual([
      ['username', '{{username}}'],
      ['password', '{{password}}'],
    ]);
    expect(s.flow.map((st) => [st.index, st.url.source])).toEqual([[2, 'http://h.test/home'], [3, 'http://h.test/owners']]);
    expect(s.session.loginPath).toBe('/login');
    expect([...s.session.lostStatus]).toEqual([401]);
    expect(s.session.servedByHeader).toBe('x-backend');
    const lost = s.session.lostBodyMatch!;
    // The login form: posted to /login (or to the page itself, having no action), with a password field.
    expect(lost.test('<form><input type="password" name="pw"></form>')).toBe(true);
    expect(lost.test('<form method=post action=/login><input name=pw type=\'password\'></form>')).toBe(true);
    expect(lost.test('<form action="https://h.test/login?next=/"><p><input type="password"></form>')).toBe(true);
    expect(lost.test('<form action="login"><input type="password"></form>')).toBe(true);
    // Logged-in pages with password fields are not the login form.
    expect(lost.test('<form action="/account/password"><input type="password" name="old"></form>')).toBe(false);
    expect(lost.test('<form action="/admin/users/add"><input type="password"></form>')).toBe(false);
    expect(lost.test('<form action="/login-help"><input type="text"></form><form action="/x"><input type="password"></form>')).toBe(false);
    expect(lost.test('<input type="text" name="q">')).toBe(false);
    expect(new RegExp(PASSWORD_INPUT_PATTERN).test('<input type="password">')).toBe(true);
  });

  it('with a login action URL and custom field names', () => {
    const file = buildQuickScenario({
      url: 'http://h.test/app/',
      loginForm: 'http://h.test/app/signin?next=/',
      loginAction: '/app/do-login',
      usernameField: 'j_username',
      passwordField: 'j_password',
    });
    const s = parseScenario({ ...file, users }, 'quick');
    expect(s.session.loginPath).toBe('/app/signin');
    expect(s.session.servedByHeader).toBeNull();
    expect(s.login[1]!.url.source).toBe('http://h.test/app/do-login');
    const body = s.login[1]!.body;
    expect(body.kind === 'form' && body.fields.map(([k]) => k)).toEqual(['j_username', 'j_password']);
    expect(s.flow.map((st) => st.url.source)).toEqual(['http://h.test/app/']);
  });
});

describe('input extractor regex', () => {
  const inputRegex = (name: string): RegExp => {
    const s = parseScenario({ flow: [{ get: 'http://h.test/', extract: { v: { input: name } } }] }, 'x');
    const x: Extractor = s.flow[0]!.extract[0]!;
    expect(x.kind).toBe('input');
    if (x.kind !== 'input') throw new Error('unreachable');
    return x.regex;
  };
  /** As the VU reads it: the first of the three alternatives that matched. */
  const valueOf = (name: string, html: string): string | null => {
    const m = inputRegex(name).exec(html);
    return m ? (m[1] ?? m[2] ?? m[3] ?? '') : null;
  };

  it.each<[string, string, string, string | null]>([
    ['value first', '_csrf', '<input value="abc" type="hidden" name="_csrf">', 'abc'],
    ['name first', '_csrf', '<input type="hidden" name="_csrf" value="abc">', 'abc'],
    ['single quotes', '_csrf', "<input type='hidden' value='a b' name='_csrf'>", 'a b'],
    ['unquoted', '_csrf', '<input type=hidden name=_csrf value=abc>', 'abc'],
    ['unquoted value, self-closing', '_csrf', '<input name="_csrf" value=abc/>', 'abc/'],
    ['self-closing', '_csrf', '<input name="_csrf" value="abc" />', 'abc'],
    ['empty value', '_csrf', '<input name="_csrf" value="">', ''],
    ['upper-case tag and attributes', '_csrf', '<INPUT TYPE="hidden" VALUE="xyz" NAME="_csrf">', 'xyz'],
    ['other inputs before it', '_csrf', '<input name="user" value="u"><input name="x_csrf" value="no"><input value="yes" name="_csrf">', 'yes'],
    ['a longer name that starts the same is not it', '_csrf', '<input name="_csrf_old" value="no">', null],
    ['regex metacharacters in the name', 'a.b[0]', '<input name="a.b[0]" value="v"><input name="aXb[0]" value="w">', 'v'],
    ['no such input', '_csrf', '<input name="other" value="v">', null],
    ['across lines', '_csrf', '<input\n  type="hidden"\n  value="multi"\n  name="_csrf"\n>', 'multi'],
  ])('%s', (_name, name, html, value) => {
    expect(valueOf(name, html)).toBe(value);
  });
});
