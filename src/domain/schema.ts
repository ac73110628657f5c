// Message schemas: a small rule language a queue can attach so that every message's `data`
// is checked before it is accepted. Definitions are compiled once into closures (no eval),
// so validating a message only runs precomputed checks.
//
// Path convention (one style for both kinds of issue):
//   - data issues start at `$`, definition issues start at `schema`;
//   - a property or keyword that is a plain identifier ([A-Za-z_][A-Za-z0-9_]*) is appended as
//     `.name`, any other name as `["json string"]`, an array index as `[2]`.
//   Data:       $.user.tags[2]            $["content-type"]
//   Definition: schema.user.props.tags.items.pattern      schema.user.enum[3]
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';

export interface SchemaIssue {
  path: string;
  message: string;
}
/** Returns every problem found in `data` (capped); an empty list means the data is valid. */
export type DataValidator = (data: string) => SchemaIssue[];

// Limits protect the server from tenant-supplied schemas that are expensive to compile or run.
const SCHEMA_LIMITS = Object.freeze({
  maxDepth: 16,
  maxRules: 1_000,
  maxPatternLength: 256,
  maxEnumEntries: 1_000,
  maxIssues: 100,
});

const DATA_ROOT = '$';
const SCHEMA_ROOT = 'schema';

const RULE_TYPES = ['object', 'array', 'string', 'number'] as const;
type RuleType = (typeof RULE_TYPES)[number];

const COMMON_KEYS = ['type', 'required'];
const KEYS_BY_TYPE: Record<RuleType, ReadonlySet<string>> = {
  object: new Set([...COMMON_KEYS, 'props', 'strict']),
  array: new Set([...COMMON_KEYS, 'items', 'min', 'max']),
  string: new Set([...COMMON_KEYS, 'pattern', 'enum', 'min', 'max']),
  number: new Set([...COMMON_KEYS, 'min', 'max']),
};

type JsonObject = Record<string, unknown>;
/** A compiled rule: appends problems with `value` to `issues`. */
type Check = (value: unknown, path: string, issues: SchemaIssue[]) => void;

interface CompiledRule {
  check: Check;
  required: boolean;
}

interface PropertyCheck {
  name: string;
  segment: string; // precomputed so validation only concatenates
  required: boolean;
  check: Check;
}

interface CompileContext {
  issues: SchemaIssue[];
  ruleCount: number;
  tooManyRules: boolean;
}

// ---------------------------------------------------------------------------------------------
// Public API

export function compileSchema(
  definition: unknown,
): { ok: true; validate: DataValidator } | { ok: false; issues: SchemaIssue[] } {
  const ctx: CompileContext = { issues: [], ruleCount: 0, tooManyRules: false };
  const check = compileTopLevel(definition, ctx);
  // Any issue fails the whole schema, even if a usable check could be built from fallbacks.
  if (ctx.issues.length > 0 || check === undefined) return { ok: false, issues: ctx.issues };
  return { ok: true, validate: (data) => validateData(data, check) };
}

/** sha256 (hex) of the canonical JSON, so equal schemas get equal ids whatever their key order. */
export function schemaId(definition: unknown): string {
  return createHash('sha256').update(canonicalJson(definition), 'utf8').digest('hex');
}

/**
 * JSON with object keys sorted recursively (UTF-16 code unit order, as RFC 8785 does) and no
 * whitespace. Values follow JSON.stringify's rules (toJSON honoured, non-finite numbers become
 * null, undefined/functions dropped from objects), but a value with no JSON form or a cycle throws.
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value, new Set());
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

// ---------------------------------------------------------------------------------------------
// Paths and issues

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function report(issues: SchemaIssue[], path: string, message: string): void {
  if (issues.length < SCHEMA_LIMITS.maxIssues) issues.push({ path, message });
}

function isFull(issues: SchemaIssue[]): boolean {
  return issues.length >= SCHEMA_LIMITS.maxIssues;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a non-finite number';
  return typeof value;
}

// Tenant text echoed in messages is shortened so one issue cannot carry a huge payload.
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

// ---------------------------------------------------------------------------------------------
// Compiling definitions

function compileTopLevel(definition: unknown, ctx: CompileContext): Check | undefined {
  const props = compileProps(definition, SCHEMA_ROOT, 0, ctx);
  return props && makeObjectCheck(props, true);
}

// Stop walking once the answer is already "invalid" and more work would only be wasted.
function shouldStop(ctx: CompileContext): boolean {
  return ctx.tooManyRules || isFull(ctx.issues);
}

function compileProps(props: unknown, path: string, depth: number, ctx: CompileContext): PropertyCheck[] | undefined {
  if (!isJsonObject(props)) {
    report(ctx.issues, path, `must be an object mapping property names to rules, got ${describe(props)}`);
    return undefined;
  }
  const names = Object.keys(props);
  if (names.length === 0) {
    report(ctx.issues, path, 'must declare at least one property');
    return undefined;
  }
  const entries: PropertyCheck[] = [];
  for (const name of names) {
    if (shouldStop(ctx)) return undefined;
    const segment = keySegment(name);
    const compiled = compileRule(props[name], path + segment, depth + 1, ctx);
    if (compiled) entries.push({ name, segment, required: compiled.required, check: compiled.check });
  }
  return entries;
}

function compileRule(rule: unknown, path: string, depth: number, ctx: CompileContext): CompiledRule | undefined {
  if (!isJsonObject(rule)) {
    report(ctx.issues, path, `rule must be an object, got ${describe(rule)}`);
    return undefined;
  }
  if (!countRule(path, ctx)) return undefined;
  if (depth > SCHEMA_LIMITS.maxDepth) {
    report(ctx.issues, path, `nesting is deeper than ${SCHEMA_LIMITS.maxDepth} levels`);
    return undefined;
  }
  const required = readBoolean(rule, 'required', true, path, ctx);
  const type = readType(rule, path, ctx);
  if (type === undefined) return undefined;
  reportUnknownKeys(rule, type, path, ctx);
  const check = compileByType(type, rule, path, depth, ctx);
  return check && { check, required };
}

function countRule(path: string, ctx: CompileContext): boolean {
  ctx.ruleCount += 1;
  if (ctx.ruleCount <= SCHEMA_LIMITS.maxRules) return true;
  ctx.tooManyRules = true;
  report(ctx.issues, path, `schema has more than ${SCHEMA_LIMITS.maxRules} rules`);
  return false;
}

function compileByType(type: RuleType, rule: JsonObject, path: string, depth: number, ctx: CompileContext): Check | undefined {
  switch (type) {
    case 'object':
      return compileObjectRule(rule, path, depth, ctx);
    case 'array':
      return compileArrayRule(rule, path, depth, ctx);
    case 'string':
      return compileStringRule(rule, path, ctx);
    case 'number':
      return compileNumberRule(rule, path, ctx);
  }
}

function readType(rule: JsonObject, path: string, ctx: CompileContext): RuleType | undefined {
  const typePath = path + keySegment('type');
  const expected = `expected one of ${RULE_TYPES.join(', ')}`;
  if (!Object.hasOwn(rule, 'type')) {
    report(ctx.issues, typePath, `is required; ${expected}`);
    return undefined;
  }
  const type = rule.type;
  if (typeof type === 'string' && (RULE_TYPES as readonly string[]).includes(type)) return type as RuleType;
  const shown = typeof type === 'string' ? quote(type) : describe(type);
  report(ctx.issues, typePath, `unknown type ${shown}; ${expected}`);
  return undefined;
}

// Misspelt keywords (e.g. `minLength`) would otherwise be silently ignored and check nothing.
function reportUnknownKeys(rule: JsonObject, type: RuleType, path: string, ctx: CompileContext): void {
  const allowed = KEYS_BY_TYPE[type];
  for (const key of Object.keys(rule)) {
    if (isFull(ctx.issues)) return;
    if (!allowed.has(key)) report(ctx.issues, path + keySegment(key), `unknown key ${quote(key)} for type ${type}`);
  }
}

// On a bad value the fallback is returned; the reported issue already makes the schema invalid.
function readBoolean(rule: JsonObject, key: string, fallback: boolean, path: string, ctx: CompileContext): boolean {
  if (!Object.hasOwn(rule, key)) return fallback;
  const value = rule[key];
  if (typeof value === 'boolean') return value;
  report(ctx.issues, path + keySegment(key), `must be a boolean, got ${describe(value)}`);
  return fallback;
}

interface Range {
  min: number | undefined;
  max: number | undefined;
}

/** `count` bounds (lengths, item counts) are non-negative integers; `value` bounds any finite number. */
function readRange(rule: JsonObject, path: string, kind: 'count' | 'value', ctx: CompileContext): Range {
  const min = readBound(rule, 'min', path, kind, ctx);
  const max = readBound(rule, 'max', path, kind, ctx);
  if (min !== undefined && max !== undefined && min > max) {
    report(ctx.issues, path + keySegment('min'), `min (${min}) must not be greater than max (${max})`);
  }
  return { min, max };
}

function readBound(rule: JsonObject, key: 'min' | 'max', path: string, kind: 'count' | 'value', ctx: CompileContext): number | undefined {
  if (!Object.hasOwn(rule, key)) return undefined;
  const value = rule[key];
  if (kind === 'count' && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (kind === 'value' && typeof value === 'number' && Number.isFinite(value)) return value;
  const expected = kind === 'count' ? 'a non-negative integer' : 'a finite number';
  report(ctx.issues, path + keySegment(key), `must be ${expected}, got ${describe(value)}`);
  return undefined;
}

function compileObjectRule(rule: JsonObject, path: string, depth: number, ctx: CompileContext): Check | undefined {
  const strict = readBoolean(rule, 'strict', true, path, ctx);
  const propsPath = path + keySegment('props');
  if (!Object.hasOwn(rule, 'props')) {
    report(ctx.issues, propsPath, 'is required for type object');
    return undefined;
  }
  const props = compileProps(rule.props, propsPath, depth, ctx);
  return props && makeObjectCheck(props, strict);
}

function compileArrayRule(rule: JsonObject, path: string, depth: number, ctx: CompileContext): Check | undefined {
  const { min, max } = readRange(rule, path, 'count', ctx);
  const itemsPath = path + keySegment('items');
  if (!Object.hasOwn(rule, 'items')) {
    report(ctx.issues, itemsPath, 'is required for type array');
    return undefined;
  }
  // `required` on an item rule is accepted but has no meaning: array slots always exist.
  const item = compileRule(rule.items, itemsPath, depth + 1, ctx);
  return item && makeArrayCheck(item.check, min, max);
}

function compileStringRule(rule: JsonObject, path: string, ctx: CompileContext): Check {
  const { min, max } = readRange(rule, path, 'count', ctx);
  const pattern = readPattern(rule, path, ctx);
  const allowed = readEnum(rule, path, ctx);
  return makeStringCheck(pattern, allowed, min, max);
}

function compileNumberRule(rule: JsonObject, path: string, ctx: CompileContext): Check {
  const { min, max } = readRange(rule, path, 'value', ctx);
  return makeNumberCheck(min, max);
}

// Tenants write patterns that run against every message: V8's linear-time engine (the `l`
// flag) makes catastrophic backtracking impossible, where a backtracking engine could let one
// message pin the CPU for minutes. Patterns it cannot run (backreferences, lookarounds) are
// refused when the schema is set.
setFlagsFromString('--enable-experimental-regexp-engine');
const LINEAR_TIME = 'l';

function readPattern(rule: JsonObject, path: string, ctx: CompileContext): RegExp | undefined {
  if (!Object.hasOwn(rule, 'pattern')) return undefined;
  const source = rule.pattern;
  const patternPath = path + keySegment('pattern');
  if (typeof source !== 'string') {
    report(ctx.issues, patternPath, `must be a string, got ${describe(source)}`);
    return undefined;
  }
  if (source.length > SCHEMA_LIMITS.maxPatternLength) {
    report(ctx.issues, patternPath, `must be at most ${SCHEMA_LIMITS.maxPatternLength} characters long`);
    return undefined;
  }
  try {
    return new RegExp(source, LINEAR_TIME);
  } catch (error) {
    const reason = /linear time/.test((error as Error).message)
      ? 'uses a feature (backreference or lookaround) that cannot be matched in linear time'
      : `is not a valid regular expression: ${(error as Error).message}`;
    report(ctx.issues, patternPath, reason);
    return undefined;
  }
}

function readEnum(rule: JsonObject, path: string, ctx: CompileContext): ReadonlySet<string> | undefined {
  if (!Object.hasOwn(rule, 'enum')) return undefined;
  const values = rule.enum;
  const enumPath = path + keySegment('enum');
  if (!Array.isArray(values)) {
    report(ctx.issues, enumPath, `must be an array of strings, got ${describe(values)}`);
    return undefined;
  }
  if (values.length === 0) {
    report(ctx.issues, enumPath, 'must contain at least one string');
    return undefined;
  }
  if (values.length > SCHEMA_LIMITS.maxEnumEntries) {
    report(ctx.issues, enumPath, `must have at most ${SCHEMA_LIMITS.maxEnumEntries} entries`);
    return undefined;
  }
  values.forEach((value: unknown, index) => {
    if (typeof value !== 'string') report(ctx.issues, `${enumPath}[${index}]`, `must be a string, got ${describe(value)}`);
  });
  return new Set(values.filter((value): value is string => typeof value === 'string'));
}

// ---------------------------------------------------------------------------------------------
// Checks built by the compiler

function reportTypeMismatch(expected: string, value: unknown, path: string, issues: SchemaIssue[]): void {
  report(issues, path, `expected ${expected}, got ${describe(value)}`);
}

function makeObjectCheck(props: PropertyCheck[], strict: boolean): Check {
  const declared = new Set(props.map((prop) => prop.name));
  return (value, path, issues) => {
    if (!isJsonObject(value)) return reportTypeMismatch('object', value, path, issues);
    for (const prop of props) {
      if (isFull(issues)) return;
      // Own properties only: a declared name like `constructor` must not match the prototype.
      if (Object.hasOwn(value, prop.name)) prop.check(value[prop.name], path + prop.segment, issues);
      else if (prop.required) report(issues, path + prop.segment, 'required property is missing');
    }
    if (strict) reportUndeclared(value, declared, path, issues);
  };
}

function reportUndeclared(value: JsonObject, declared: ReadonlySet<string>, path: string, issues: SchemaIssue[]): void {
  for (const key of Object.keys(value)) {
    if (isFull(issues)) return;
    if (!declared.has(key)) report(issues, path + keySegment(key), 'property is not declared in the schema');
  }
}

function makeArrayCheck(item: Check, min: number | undefined, max: number | undefined): Check {
  return (value, path, issues) => {
    if (!Array.isArray(value)) return reportTypeMismatch('array', value, path, issues);
    if (min !== undefined && value.length < min) report(issues, path, `expected at least ${min} items, got ${value.length}`);
    if (max !== undefined && value.length > max) report(issues, path, `expected at most ${max} items, got ${value.length}`);
    for (let index = 0; index < value.length && !isFull(issues); index++) {
      item(value[index], `${path}[${index}]`, issues);
    }
  };
}

function makeStringCheck(
  pattern: RegExp | undefined,
  allowed: ReadonlySet<string> | undefined,
  min: number | undefined,
  max: number | undefined,
): Check {
  const checksLength = min !== undefined || max !== undefined;
  return (value, path, issues) => {
    if (typeof value !== 'string') return reportTypeMismatch('string', value, path, issues);
    if (allowed !== undefined && !allowed.has(value)) report(issues, path, 'is not one of the allowed values');
    if (pattern !== undefined && !pattern.test(value)) report(issues, path, `does not match pattern /${pattern.source}/`);
    if (!checksLength) return;
    const length = codePointLength(value);
    if (min !== undefined && length < min) report(issues, path, `must be at least ${min} characters long, got ${length}`);
    if (max !== undefined && length > max) report(issues, path, `must be at most ${max} characters long, got ${length}`);
  };
}

// Lengths count code points so an emoji (a surrogate pair) counts as one character, as users expect.
function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
      const previous = text.charCodeAt(i - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) length -= 1;
    }
  }
  return length;
}

function makeNumberCheck(min: number | undefined, max: number | undefined): Check {
  return (value, path, issues) => {
    // JSON.parse turns overflowing literals like 1e400 into Infinity, which is not a usable number.
    if (typeof value !== 'number' || !Number.isFinite(value)) return reportTypeMismatch('a finite number', value, path, issues);
    if (min !== undefined && value < min) report(issues, path, `must be at least ${min}, got ${value}`);
    if (max !== undefined && value > max) report(issues, path, `must be at most ${max}, got ${value}`);
  };
}

function validateData(data: string, check: Check): SchemaIssue[] {
  let parsed: unknown;
  try {
    // The type says string, but JS callers may pass anything; JSON.parse would coerce it.
    if (typeof data !== 'string') throw new TypeError('data is not a string');
    parsed = JSON.parse(data);
  } catch {
    return [{ path: DATA_ROOT, message: 'data is not valid JSON' }];
  }
  const issues: SchemaIssue[] = [];
  check(parsed, DATA_ROOT, issues);
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON

function serialize(input: unknown, ancestors: Set<object>): string | undefined {
  const value = applyToJson(input);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('BigInt has no JSON representation');
    case 'object':
      return serializeContainer(value, ancestors);
    default:
      return undefined; // undefined, functions and symbols: left out, as JSON.stringify does
  }
}

function applyToJson(value: unknown): unknown {
  const toJSON = (value as { toJSON?: unknown } | null | undefined)?.toJSON;
  return typeof toJSON === 'function' ? (toJSON as () => unknown).call(value) : value;
}

function serializeContainer(value: object, ancestors: Set<object>): string {
  // Without this a cyclic value would recurse until the stack overflows.
  if (ancestors.has(value)) throw new TypeError('cannot serialise a cyclic structure');
  ancestors.add(value);
  try {
    return Array.isArray(value) ? serializeArray(value, ancestors) : serializeObject(value as JsonObject, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function serializeArray(items: unknown[], ancestors: Set<object>): string {
  const parts: string[] = [];
  for (let index = 0; index < items.length; index++) parts.push(serialize(items[index], ancestors) ?? 'null');
  return `[${parts.join(',')}]`;
}

function serializeObject(object: JsonObject, ancestors: Set<object>): string {
  const parts: string[] = [];
  for (const key of Object.keys(object).sort()) {
    const text = serialize(object[key], ancestors);
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
