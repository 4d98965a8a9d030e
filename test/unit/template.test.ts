import { describe, it, expect } from 'vitest';
import { compileTemplate, displayTemplate, renderTemplate, type Vars } from '../../src/scenario/template.js';

const VARS: Vars = { vu: '7', iteration: '3', username: 'alice', password: 's3cret', csrf: 'tok' };

describe('compileTemplate', () => {
  it.each([
    ['/home', '/home'],
    ['', ''],
    ['{ not a var }', '{ not a var }'],
    ['{{ }}', '{{ }}'],
    ['{{1abc}}', '{{1abc}}'],
  ] as const)('%j is constant', (text, constant) => {
    const t = compileTemplate(text);
    expect(t.constant).toBe(constant);
    expect(t.vars).toEqual([]);
    expect(t.parts).toEqual([text]);
    expect(t.usesSecret).toBe(false);
    expect(t.source).toBe(text);
  });

  it.each([
    ['/owners/{{vu}}', ['vu'], ['/owners/', 'vu', '']],
    ['{{vu}}', ['vu'], ['', 'vu', '']],
    ['/u/{{ username }}/i/{{iteration}}?x', ['username', 'iteration'], ['/u/', 'username', '/i/', 'iteration', '?x']],
    ['{{a}}{{b}}', ['a', 'b'], ['', 'a', '', 'b', '']],
    ['{{  spaced.name-1  }}', ['spaced.name-1'], ['', 'spaced.name-1', '']],
  ] as const)('%j has vars %j', (text, vars, parts) => {
    const t = compileTemplate(text);
    expect(t.constant).toBeNull();
    expect(t.vars).toEqual(vars);
    expect(t.parts).toEqual(parts);
  });

  it.each([
    ['{{password}}', true],
    ['user={{username}}&pw={{ password }}', true],
    ['{{username}}', false],
    ['password', false],
  ] as const)('%j usesSecret=%s', (text, secret) => {
    expect(compileTemplate(text).usesSecret).toBe(secret);
  });
});

describe('renderTemplate', () => {
  it.each([
    ['/home', '/home'],
    ['/owners/{{vu}}', '/owners/7'],
    ['/u/{{ username }}/i/{{iteration}}', '/u/alice/i/3'],
    ['{{username}}:{{password}}', 'alice:s3cret'],
    ['{{vu}}{{vu}}', '77'],
    ['a{{nope}}b', 'ab'],
    ['{{csrf}}', 'tok'],
  ] as const)('%j -> %j', (text, out) => {
    expect(renderTemplate(compileTemplate(text), VARS)).toBe(out);
  });

  it('returns the constant without consulting vars (fast path)', () => {
    const t = compileTemplate('/static');
    expect(renderTemplate(t, {})).toBe('/static');
  });
});

describe('displayTemplate', () => {
  it.each([
    ['/owners/{{vu}}', '/owners/7'],
    ['/static', '/static'],
    ['{{password}}', '{{password}}'],
    ['u={{username}}&p={{ password }}', 'u={{username}}&p={{ password }}'],
  ] as const)('%j displays as %j', (text, shown) => {
    const out = displayTemplate(compileTemplate(text), VARS);
    expect(out).toBe(shown);
    expect(out).not.toContain('s3cret');
  });
});
