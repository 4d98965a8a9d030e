import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import type { ConfigIssue } from '../../src/common/errors.js';
import { parseUserFlag, parseUsersCsv, readUsersFile, type Credential } from '../../src/scenario/users.js';

describe('parseUsersCsv: valid files', () => {
  it.each<[string, string, Credential[]]>([
    ['plain', 'username,password\nalice,a1\nbob,b2\n', [{ username: 'alice', password: 'a1' }, { username: 'bob', password: 'b2' }]],
    ['extra columns, any order, become variables', 'id,password,role,username\n1,pw1,admin,alice\n2,pw2,user,bob', [{ username: 'alice', password: 'pw1', vars: { id: '1', role: 'admin' } }, { username: 'bob', password: 'pw2', vars: { id: '2', role: 'user' } }]],
    ['a quoted password keeps its spaces', 'username,password\n alice , "  two words  " ', [{ username: 'alice', password: '  two words  ' }]],
    ['header case-insensitive', 'UserName,PASSWORD\nalice,a1', [{ username: 'alice', password: 'a1' }]],
    ['quoted field with a comma', 'username,password\n"smith, john","p,w"', [{ username: 'smith, john', password: 'p,w' }]],
    ['doubled quotes', 'username,password\nalice,"say ""hi"""\n', [{ username: 'alice', password: 'say "hi"' }]],
    ['quoted header', '"username","password"\nalice,a1', [{ username: 'alice', password: 'a1' }]],
    ['CRLF line ends', 'username,password\r\nalice,a1\r\nbob,b2\r\n', [{ username: 'alice', password: 'a1' }, { username: 'bob', password: 'b2' }]],
    ['blank lines ignored', '\nusername,password\n\nalice,a1\n\n', [{ username: 'alice', password: 'a1' }]],
    ['empty password allowed', 'username,password\nalice,', [{ username: 'alice', password: '' }]],
    ['password with a colon', 'username,password\nalice,a:b:c', [{ username: 'alice', password: 'a:b:c' }]],
  ])('%s', (_name, text, users) => {
    const issues: ConfigIssue[] = [];
    expect(parseUsersCsv(text, 'users.file', issues)).toEqual(users);
    expect(issues).toEqual([]);
  });
});

describe('parseUsersCsv: invalid files', () => {
  it.each<[string, string, { path: string; message: RegExp }[]]>([
    ['empty file', '', [{ path: 'users.file', message: /empty/ }]],
    ['whitespace only', ' \n\r\n', [{ path: 'users.file', message: /empty/ }]],
    ['header only', 'username,password\n', [{ path: 'users.file', message: /header row but no users/ }]],
    ['missing password column', 'username,pass\nalice,a1', [{ path: 'users.file', message: /must name username and password.*"username,pass"/ }]],
    ['missing username column', 'user,password\nalice,a1', [{ path: 'users.file', message: /must name username and password/ }]],
    ['row missing the password field', 'username,password\nalice', [{ path: 'users.file line 2', message: /missing username or password/ }]],
    ['row with an empty username', 'username,password\n,pw\nbob,b2', [{ path: 'users.file line 2', message: /missing username or password/ }]],
  ])('%s', (_name, text, expected) => {
    const issues: ConfigIssue[] = [];
    parseUsersCsv(text, 'users.file', issues);
    expect(issues).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(issues[i]!.path).toBe(e.path);
      expect(issues[i]!.message).toMatch(e.message);
    });
  });

  it('keeps the good rows when one row is bad', () => {
    const issues: ConfigIssue[] = [];
    expect(parseUsersCsv('username,password\nalice\nbob,b2', 'u', issues)).toEqual([{ username: 'bob', password: 'b2' }]);
    expect(issues.map((i) => i.path)).toEqual(['u line 2']);
  });

  it('reports a header-only file even when earlier problems are already in the list', () => {
    const issues: ConfigIssue[] = [{ path: 'flow[0].think', message: 'an earlier problem' }];
    parseUsersCsv('username,password\n', 'users[1].file', issues);
    expect(issues.map((i) => i.path)).toEqual(['flow[0].think', 'users[1].file']);
  });
});

describe('readUsersFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-users-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a CSV file', () => {
    const file = join(dir, 'users.csv');
    writeFileSync(file, 'username,password\nalice,a1\n');
    const issues: ConfigIssue[] = [];
    expect(readUsersFile(file, 'users.file', issues)).toEqual([{ username: 'alice', password: 'a1' }]);
    expect(issues).toEqual([]);
  });

  it('a missing file is an issue naming the file and ENOENT', () => {
    const file = join(dir, 'nope.csv');
    const issues: ConfigIssue[] = [];
    expect(readUsersFile(file, 'users.file', issues)).toEqual([]);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('users.file');
    expect(issues[0]!.message).toContain(file);
    expect(issues[0]!.message).toContain('ENOENT');
  });

  it('a directory is an issue too (EISDIR)', () => {
    const issues: ConfigIssue[] = [];
    readUsersFile(dir, 'users.file', issues);
    expect(issues[0]!.message).toContain('EISDIR');
  });
});

describe('parseUserFlag', () => {
  it.each<[string, Credential]>([
    ['alice:secret', { username: 'alice', password: 'secret' }],
    ['alice:se:cr:et', { username: 'alice', password: 'se:cr:et' }],
    ['alice:', { username: 'alice', password: '' }],
    ['a:b', { username: 'a', password: 'b' }],
    ['alice::', { username: 'alice', password: ':' }],
  ])('%j', (value, cred) => {
    const issues: ConfigIssue[] = [];
    expect(parseUserFlag(value, issues)).toEqual(cred);
    expect(issues).toEqual([]);
  });

  it.each([
    // Without a colon the value may be a password typed alone: never echoed.
    ['zq9xk', 'without a colon', 'zq9xk'],
    ['', undefined, undefined],
    [':hunter2', undefined, 'hunter2'],
    [':pa:ss', undefined, 'pa:ss'],
  ] as const)('%j is an issue on --user that never shows a password', (value, shown, secret) => {
    const issues: ConfigIssue[] = [];
    expect(parseUserFlag(value, issues)).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('--user');
    expect(issues[0]!.message).toMatch(/NAME:PASSWORD/);
    if (shown !== undefined) expect(issues[0]!.message).toContain(shown);
    if (secret !== undefined) {
      expect(issues[0]!.message).not.toContain(secret);
      expect(issues[0]!.message).not.toContain(secret.slice(0, 2));
    }
  });

  it('never echoes a colon-less value, however long', () => {
    const issues: ConfigIssue[] = [];
    parseUserFlag('x'.repeat(100), issues);
    expect(issues[0]!.message).not.toContain('xx');
  });
});
