import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalJson, compileSchema, schemaId, type DataValidator, type SchemaIssue } from '../../src/domain/schema.js';

function compileOk(definition: unknown): DataValidator {
  const result = compileSchema(definition);
  if (!result.ok) assert.fail(`expected schema to compile, got ${JSON.stringify(result.issues)}`);
  return result.validate;
}

function compileIssues(definition: unknown): SchemaIssue[] {
  const result = compileSchema(definition);
  if (result.ok) assert.fail('expected schema to be rejected');
  assert.ok(result.issues.length > 0);
  return result.issues;
}

function paths(issues: SchemaIssue[]): string[] {
  return issues.map((issue) => issue.path);
}

function assertIssueAt(issues: SchemaIssue[], path: string, messagePart?: RegExp): void {
  const found = issues.find((issue) => issue.path === path);
  assert.ok(found, `expected an issue at ${path}, got ${JSON.stringify(issues)}`);
  if (messagePart) assert.match(found.message, messagePart);
}

/** A chain of `levels` rules: object rules wrapping a string rule at the bottom. */
function nestedRule(levels: number): unknown {
  let rule: unknown = { type: 'string' };
  for (let level = 1; level < levels; level++) rule = { type: 'object', props: { a: rule } };
  return rule;
}

const userSchema = {
  user: {
    type: 'object',
    props: {
      name: { type: 'string', min: 1, max: 5 },
      role: { type: 'string', enum: ['admin', 'member'] },
      email: { type: 'string', pattern: '^[^@]+@[^@]+$', required: false },
      tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' }, min: 1, max: 3 },
      age: { type: 'number', min: 0, max: 150, required: false },
    },
  },
  meta: { type: 'object', strict: false, required: false, props: { source: { type: 'string' } } },
};

const goodUser = { user: { name: 'ann', role: 'admin', tags: ['a', 'b'], age: 30 } };

describe('compileSchema: valid definitions', () => {
  it('compiles every rule type with its options', () => {
    compileOk(userSchema);
  });

  it('compiles a minimal schema', () => {
    compileOk({ id: { type: 'number' } });
  });

  it('accepts negative and fractional number bounds, and min equal to max', () => {
    compileOk({ n: { type: 'number', min: -1.5, max: 2.25 }, s: { type: 'string', min: 3, max: 3 } });
  });

  it('allows property names that are also rule keywords or prototype names', () => {
    compileOk({ type: { type: 'string' }, constructor: { type: 'number' }, __proto__x: { type: 'string' } });
  });

  it('accepts nesting up to 16 levels', () => {
    compileOk({ a: nestedRule(16) });
  });

  it('accepts 1,000 rules in total', () => {
    const definition: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) definition[`p${i}`] = { type: 'string' };
    compileOk(definition);
  });
});

describe('compileSchema: invalid definitions', () => {
  it('rejects a definition that is not an object', () => {
    for (const definition of [null, 'x', 3, [], [{ type: 'string' }]]) {
      assertIssueAt(compileIssues(definition), 'schema', /must be an object/);
    }
  });

  it('rejects an empty top level', () => {
    assertIssueAt(compileIssues({}), 'schema', /at least one property/);
  });

  it('rejects a rule that is not an object', () => {
    const issues = compileIssues({ a: 'string', b: null, c: [] });
    assert.deepEqual(paths(issues), ['schema.a', 'schema.b', 'schema.c']);
  });

  it('rejects a missing or unknown type', () => {
    const issues = compileIssues({ a: {}, b: { type: 'integer' }, c: { type: 3 } });
    assertIssueAt(issues, 'schema.a.type', /is required/);
    assertIssueAt(issues, 'schema.b.type', /unknown type "integer"/);
    assertIssueAt(issues, 'schema.c.type', /unknown type number/);
  });

  it('rejects unknown keys, including keys valid only for another type', () => {
    const issues = compileIssues({
      a: { type: 'string', minLength: 1 },
      b: { type: 'number', pattern: 'x' },
      c: { type: 'object', props: { x: { type: 'string' } }, items: { type: 'string' } },
      d: { type: 'string', 'max-length': 2 },
    });
    assertIssueAt(issues, 'schema.a.minLength', /unknown key "minLength" for type string/);
    assertIssueAt(issues, 'schema.b.pattern', /unknown key/);
    assertIssueAt(issues, 'schema.c.items', /unknown key/);
    assertIssueAt(issues, 'schema.d["max-length"]', /unknown key/);
  });

  it('rejects required and strict that are not booleans', () => {
    const issues = compileIssues({
      a: { type: 'string', required: 'yes' },
      b: { type: 'object', strict: 1, props: { x: { type: 'number' } } },
    });
    assertIssueAt(issues, 'schema.a.required', /boolean/);
    assertIssueAt(issues, 'schema.b.strict', /boolean/);
  });

  it('rejects bad min/max for each type', () => {
    const issues = compileIssues({
      s: { type: 'string', min: -1, max: 1.5 },
      a: { type: 'array', items: { type: 'string' }, min: '2' },
      n: { type: 'number', max: 'ten' },
    });
    assertIssueAt(issues, 'schema.s.min', /non-negative integer/);
    assertIssueAt(issues, 'schema.s.max', /non-negative integer/);
    assertIssueAt(issues, 'schema.a.min', /non-negative integer/);
    assertIssueAt(issues, 'schema.n.max', /finite number/);
  });

  it('rejects min greater than max', () => {
    const issues = compileIssues({
      s: { type: 'string', min: 5, max: 2 },
      n: { type: 'number', min: 1, max: 0 },
      a: { type: 'array', items: { type: 'number' }, min: 3, max: 1 },
    });
    assert.deepEqual(paths(issues), ['schema.s.min', 'schema.n.min', 'schema.a.min']);
    assertIssueAt(issues, 'schema.s.min', /min \(5\) must not be greater than max \(2\)/);
  });

  it('rejects missing, non-object and empty props', () => {
    const issues = compileIssues({
      a: { type: 'object' },
      b: { type: 'object', props: [] },
      c: { type: 'object', props: {} },
    });
    assertIssueAt(issues, 'schema.a.props', /required/);
    assertIssueAt(issues, 'schema.b.props', /must be an object/);
    assertIssueAt(issues, 'schema.c.props', /at least one property/);
  });

  it('rejects a missing or bad items rule', () => {
    const issues = compileIssues({ a: { type: 'array' }, b: { type: 'array', items: 'string' } });
    assertIssueAt(issues, 'schema.a.items', /required/);
    assertIssueAt(issues, 'schema.b.items', /rule must be an object/);
  });

  it('rejects bad patterns', () => {
    const issues = compileIssues({
      a: { type: 'string', pattern: 5 },
      b: { type: 'string', pattern: '([a-z' },
      c: { type: 'string', pattern: 'a'.repeat(257) },
    });
    assertIssueAt(issues, 'schema.a.pattern', /must be a string/);
    assertIssueAt(issues, 'schema.b.pattern', /not a valid regular expression/);
    assertIssueAt(issues, 'schema.c.pattern', /at most 256 characters/);
  });

  it('runs backtracking-prone patterns in linear time', () => {
    const compiled = compileSchema({ a: { type: 'string', pattern: '^(a+)+$' }, b: { type: 'string', pattern: '^(\\w|\\d)+$' } });
    assert.ok(compiled.ok);
    // Exponential for a backtracking engine: minutes at this length. Counted, not timed: the
    // result is all that is asserted, and a backtracking engine would not return in test time.
    const evil = `${'a'.repeat(5000)}!`;
    assert.equal(compiled.validate(JSON.stringify({ a: evil, b: evil })).length, 2);
  });

  it('refuses patterns that cannot run in linear time', () => {
    const issues = compileIssues({ a: { type: 'string', pattern: '(a)\\1' }, b: { type: 'string', pattern: '(?<=x)y' } });
    assertIssueAt(issues, 'schema.a.pattern', /linear time/);
    assertIssueAt(issues, 'schema.b.pattern', /linear time/);
  });

  it('rejects bad enums', () => {
    const issues = compileIssues({
      a: { type: 'string', enum: 'x' },
      b: { type: 'string', enum: [] },
      c: { type: 'string', enum: ['ok', 2, null] },
      d: { type: 'string', enum: Array.from({ length: 1001 }, (_, i) => `v${i}`) },
    });
    assertIssueAt(issues, 'schema.a.enum', /array of strings/);
    assertIssueAt(issues, 'schema.b.enum', /at least one/);
    assertIssueAt(issues, 'schema.c.enum[1]', /must be a string/);
    assertIssueAt(issues, 'schema.c.enum[2]', /must be a string/);
    assertIssueAt(issues, 'schema.d.enum', /at most 1000 entries/);
  });

  it('reports problems deep inside with the full path', () => {
    const issues = compileIssues({
      user: { type: 'object', props: { tags: { type: 'array', items: { type: 'string', pattern: '(x)\\1' } } } },
    });
    assert.deepEqual(paths(issues), ['schema.user.props.tags.items.pattern']);
  });

  it('quotes property names that are not identifiers', () => {
    const issues = compileIssues({ 'content-type': { type: 'strin' } });
    assert.deepEqual(paths(issues), ['schema["content-type"].type']);
  });

  it('returns all problems, not just the first', () => {
    const issues = compileIssues({
      a: { type: 'string', minLength: 1, required: 'no' },
      b: { type: 'bogus' },
      c: { type: 'array' },
    });
    assert.deepEqual(paths(issues).sort(), ['schema.a.minLength', 'schema.a.required', 'schema.b.type', 'schema.c.items']);
  });

  it('refuses nesting deeper than 16 levels, at the offending rule', () => {
    const issues = compileIssues({ a: nestedRule(17) });
    const deepest = `schema.a${'.props.a'.repeat(16)}`;
    assert.deepEqual(paths(issues), [deepest]);
    assertIssueAt(issues, deepest, /deeper than 16/);
  });

  it('counts array items as a nesting level', () => {
    let rule: unknown = { type: 'number' };
    for (let level = 1; level < 17; level++) rule = { type: 'array', items: rule };
    assertIssueAt(compileIssues({ a: rule }), `schema.a${'.items'.repeat(16)}`, /deeper than 16/);
  });

  it('refuses more than 1,000 rules', () => {
    const definition: Record<string, unknown> = {};
    for (let i = 0; i < 1001; i++) definition[`p${i}`] = { type: 'string' };
    const issues = compileIssues(definition);
    assert.deepEqual(issues, [{ path: 'schema.p1000', message: 'schema has more than 1000 rules' }]);
  });

  it('caps definition issues at 100', () => {
    const definition: Record<string, unknown> = {};
    for (let i = 0; i < 500; i++) definition[`p${i}`] = { type: 'nope' };
    assert.equal(compileIssues(definition).length, 100);
  });
});

describe('canonicalJson and schemaId', () => {
  it('sorts keys recursively and drops whitespace', () => {
    const value = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } };
    assert.equal(canonicalJson(value), '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('is stable under key order', () => {
    const one = { user: { type: 'object', props: { b: { type: 'number' }, a: { type: 'string' } } } };
    const two = { user: { props: { a: { type: 'string' }, b: { type: 'number' } }, type: 'object' } };
    assert.equal(canonicalJson(one), canonicalJson(two));
    assert.equal(schemaId(one), schemaId(two));
  });

  it('keeps array order significant', () => {
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });

  it('follows JSON.stringify for primitives and missing values', () => {
    assert.equal(canonicalJson('a"\n'), JSON.stringify('a"\n'));
    assert.equal(canonicalJson(1e21), '1e+21');
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson({ a: undefined, b: Number.NaN }), '{"b":null}');
    assert.equal(canonicalJson([undefined]), '[null]');
  });

  it('throws on cycles and on values with no JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), TypeError);
    assert.throws(() => canonicalJson(undefined), TypeError);
    assert.throws(() => canonicalJson(10n), TypeError);
  });

  it('allows a shared (non-cyclic) object to appear twice', () => {
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
  });

  it('schemaId is the sha256 hex of the canonical JSON', () => {
    const definition = { b: { type: 'number' }, a: { type: 'string' } };
    const expected = createHash('sha256').update('{"a":{"type":"string"},"b":{"type":"number"}}').digest('hex');
    assert.equal(schemaId(definition), expected);
    assert.match(schemaId(definition), /^[0-9a-f]{64}$/);
    assert.notEqual(schemaId(definition), schemaId({ a: { type: 'string' } }));
  });
});

describe('validating data', () => {
  const validate = compileOk(userSchema);
  const check = (value: unknown): SchemaIssue[] => validate(JSON.stringify(value));

  it('accepts good data', () => {
    assert.deepEqual(check(goodUser), []);
    assert.deepEqual(check({ ...goodUser, meta: { source: 'cli', extra: 1 } }), []);
  });

  it('reports data that is not JSON', () => {
    for (const data of ['', '{', "{'a':1}", 'undefined']) {
      assert.deepEqual(validate(data), [{ path: '$', message: 'data is not valid JSON' }]);
    }
  });

  it('reports a top level that is not an object', () => {
    for (const value of [[], null, 'x', 1, true]) {
      const issues = check(value);
      assert.equal(issues.length, 1);
      assertIssueAt(issues, '$', /expected object/);
    }
  });

  it('reports missing required properties but not missing optional ones', () => {
    assert.deepEqual(check({}), [{ path: '$.user', message: 'required property is missing' }]);
    const issues = check({ user: { name: 'ann', tags: ['a'] } });
    assert.deepEqual(paths(issues), ['$.user.role']);
  });

  it('does not treat inherited names as present', () => {
    const v = compileOk({ constructor: { type: 'string' } });
    assertIssueAt(v('{}'), '$.constructor', /missing/);
    assert.deepEqual(v('{"constructor":"x"}'), []);
  });

  it('reports wrong types', () => {
    const issues = check({ user: { name: 1, role: null, tags: 'a', age: '30' }, meta: [] });
    assertIssueAt(issues, '$.user.name', /expected string, got number/);
    assertIssueAt(issues, '$.user.role', /expected string, got null/);
    assertIssueAt(issues, '$.user.tags', /expected array, got string/);
    assertIssueAt(issues, '$.user.age', /expected a finite number, got string/);
    assertIssueAt(issues, '$.meta', /expected object, got array/);
  });

  it('rejects numbers that overflow to Infinity', () => {
    const v = compileOk({ n: { type: 'number' } });
    assertIssueAt(v('{"n":1e400}'), '$.n', /finite number/);
  });

  it('checks number bounds inclusively', () => {
    assert.deepEqual(check({ user: { ...goodUser.user, age: 0 } }), []);
    assert.deepEqual(check({ user: { ...goodUser.user, age: 150 } }), []);
    assertIssueAt(check({ user: { ...goodUser.user, age: -1 } }), '$.user.age', /at least 0/);
    assertIssueAt(check({ user: { ...goodUser.user, age: 150.5 } }), '$.user.age', /at most 150/);
  });

  it('checks string enum, pattern and length', () => {
    const issues = check({ user: { name: 'toolong', role: 'owner', email: 'nope', tags: ['a'] } });
    assertIssueAt(issues, '$.user.name', /at most 5 characters/);
    assertIssueAt(issues, '$.user.role', /allowed values/);
    assertIssueAt(issues, '$.user.email', /does not match pattern/);
    assertIssueAt(check({ user: { ...goodUser.user, name: '' } }), '$.user.name', /at least 1 character/);
  });

  it('applies patterns unanchored, as written', () => {
    const v = compileOk({ s: { type: 'string', pattern: 'b' } });
    assert.deepEqual(v('{"s":"abc"}'), []);
    assertIssueAt(v('{"s":"xyz"}'), '$.s', /pattern/);
  });

  it('counts string length in code points', () => {
    const v = compileOk({ s: { type: 'string', max: 2 } });
    assert.deepEqual(v(JSON.stringify({ s: '😀😀' })), []);
    assertIssueAt(v(JSON.stringify({ s: '😀😀😀' })), '$.s', /got 3/);
  });

  it('checks array items and item counts', () => {
    const issues = check({ user: { ...goodUser.user, tags: ['ok', 'Bad', 'ok', 'x1'] } });
    assert.deepEqual(paths(issues).sort(), ['$.user.tags', '$.user.tags[1]', '$.user.tags[3]']);
    assertIssueAt(issues, '$.user.tags', /at most 3 items, got 4/);
    assertIssueAt(check({ user: { ...goodUser.user, tags: [] } }), '$.user.tags', /at least 1 items?/);
  });

  it('reports each undeclared property of a strict object', () => {
    const issues = check({ ...goodUser, extra: 1, 'x-y': 2, user: { ...goodUser.user, nick: 'a' } });
    assert.deepEqual(paths(issues).sort(), ['$.extra', '$.user.nick', '$["x-y"]']);
    for (const issue of issues) assert.match(issue.message, /not declared/);
  });

  it('lets non-strict objects carry extra properties', () => {
    assert.deepEqual(check({ ...goodUser, meta: { source: 'a', anything: [1] } }), []);
  });

  it('caps issues at 100', () => {
    const v = compileOk({ list: { type: 'array', items: { type: 'number' } } });
    const issues = v(JSON.stringify({ list: Array.from({ length: 500 }, () => 'x') }));
    assert.equal(issues.length, 100);
    assert.equal(issues[99]?.path, '$.list[99]');
  });

  it('validates nested arrays of objects with full paths', () => {
    const v = compileOk({
      orders: { type: 'array', items: { type: 'object', props: { lines: { type: 'array', items: { type: 'number', min: 1 } } } } },
    });
    const issues = v(JSON.stringify({ orders: [{ lines: [1] }, { lines: [2, 0] }] }));
    assert.deepEqual(issues, [{ path: '$.orders[1].lines[1]', message: 'must be at least 1, got 0' }]);
  });

  it('validates the deepest allowed nesting', () => {
    const v = compileOk({ a: nestedRule(16) });
    let data: unknown = 'leaf';
    for (let level = 1; level < 16; level++) data = { a: data };
    assert.deepEqual(v(JSON.stringify({ a: data })), []);
    let wrong: unknown = 5;
    for (let level = 1; level < 16; level++) wrong = { a: wrong };
    assert.deepEqual(paths(v(JSON.stringify({ a: wrong }))), [`$.a${'.a'.repeat(15)}`]);
  });
});
