// Stands in for "vitest" when `deno test` runs the edge's unit tests (scripts/deno-test.ts, docs/deno.md): the import
// map in test/deno/deno.jsonc points "vitest" here. describe/it become flat `Deno.test` registrations named
// "outer > inner > test"; `expect` is vitest's own (@vitest/expect on chai, installed with vitest), so every matcher
// behaves as it does under vitest. Only what the Deno-run tests use is here: anything else is undefined, and the
// file that uses it fails to load, loudly.
import { ASYMMETRIC_MATCHERS_OBJECT, chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from "@vitest/expect";
import { printDiffOrStringify } from "@vitest/utils/diff";
import type * as vitest from "vitest";

// Deno's test API, as far as this shim uses it (tsc checks this file with Node's types, not Deno's).
type DenoTest = {
  name: string;
  fn: (t: { step(definition: DenoTest): Promise<boolean> }) => Promise<void>;
  ignore?: boolean;
  // vitest has no leak checks; Deno's would fail tests that vitest passes (e.g. a timer a test leaves armed).
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
};
declare const Deno: { test(definition: DenoTest): void };

type Hook = () => unknown;
type TestFn = (...args: never[]) => unknown;

/** A `describe` block, or the file itself (the root). `deno test` runs each file in an isolate of its own. */
type Scope = {
  names: string[];
  parent?: Scope;
  skip: boolean;
  beforeAll: Hook[];
  afterAll: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  /** Tests inside (nested too) not yet finished: `afterAll` runs when this reaches 0. */
  pending: number;
  /** Set once `beforeAll` has run: a failure there fails every test in the scope, as in vitest. */
  setUp?: Promise<void>;
  /**
   * An async `describe` registers its tests only after its body's awaits, when Deno has already collected the
   * file's tests: it is one `Deno.test` that runs the body, then its tests as steps (gathered here).
   */
  steps?: DenoTest[];
};

const newScope = (names: string[], parent?: Scope): Scope => ({
  names,
  parent,
  skip: parent?.skip ?? false,
  beforeAll: [],
  afterAll: [],
  beforeEach: [],
  afterEach: [],
  pending: 0,
});

let current = newScope([]);

/** The scope and its ancestors, outermost first. */
function chainOf(scope: Scope): Scope[] {
  const chain: Scope[] = [];
  for (let s: Scope | undefined = scope; s; s = s.parent) chain.unshift(s);
  return chain;
}

async function runAll(hooks: Hook[]): Promise<void> {
  for (const hook of hooks) await hook();
}

/** One test (or an async describe) is done: run `afterAll` of the scopes it was the last one in, innermost first. */
async function finish(chain: Scope[]): Promise<void> {
  for (const s of [...chain].reverse()) {
    s.pending -= 1;
    if (s.pending === 0 && s.setUp) await runAll([...s.afterAll].reverse());
  }
}

/** A test goes to Deno at once, or to the nearest enclosing async describe as a step. */
function add(scope: Scope, names: string[], test: Omit<DenoTest, "name">): void {
  const owner = chainOf(scope)
    .reverse()
    .find((s) => s.steps);
  if (owner) owner.steps!.push({ ...test, name: names.slice(owner.names.length).join(" > ") });
  else Deno.test({ ...test, name: names.join(" > ") });
}

function register(name: string, fn: TestFn, skip = false): void {
  const scope = current;
  const chain = chainOf(scope);
  const ignore = skip || scope.skip;
  if (!ignore) for (const s of chain) s.pending += 1;
  add(scope, [...scope.names, name], {
    ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      try {
        for (const s of chain) {
          s.setUp ??= runAll(s.beforeAll);
          await s.setUp;
        }
        for (const s of chain) await runAll(s.beforeEach);
        try {
          await (fn as () => unknown)();
        } catch (err) {
          throw withDiff(err);
        } finally {
          for (const s of [...chain].reverse()) await runAll([...s.afterEach].reverse());
        }
      } finally {
        await finish(chain);
      }
    },
  });
}

/** Adds what vitest's reporter shows under a failed equality: the diff of expected and received. */
function withDiff(err: unknown): unknown {
  if (!(err instanceof Error) || !("expected" in err) || !("actual" in err) || !("showDiff" in err) || !err.showDiff)
    return err;
  const diff = printDiffOrStringify(err.actual, err.expected);
  if (!diff) return err;
  const message = `${err.message}\n\n${diff}`;
  // Deno prints the stack, which V8 wrote with the message when the error was made.
  if (err.stack) err.stack = err.stack.replace(err.message, message);
  err.message = message;
  return err;
}

const isAsync = (fn: () => unknown) => fn.constructor.name === "AsyncFunction";

function collect(name: string, body: () => unknown, skip: boolean): void {
  const parent = current;
  const scope = newScope([...parent.names, name], parent);
  scope.skip ||= skip;
  if (!isAsync(body)) {
    current = scope;
    try {
      if (body() instanceof Promise) throw new Error(`describe("${name}") returned a promise: make it async`);
    } finally {
      current = parent;
    }
    return;
  }
  scope.steps = [];
  // Holds the enclosing scopes' afterAll until this block's tests, registered later, have run.
  const outer = chainOf(parent);
  if (!scope.skip) for (const s of outer) s.pending += 1;
  add(parent, scope.names, {
    ignore: scope.skip,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      try {
        current = scope;
        try {
          await body();
        } finally {
          current = parent;
        }
        if (scope.steps!.length === 0) throw new Error(`describe("${name}") holds no test`);
        for (const step of scope.steps!) await t.step(step);
      } finally {
        await finish(outer);
      }
    },
  });
}

/** vitest's test-name placeholders for `each`: %s %d %i %j %# %%. */
function title(template: string, args: unknown[], index: number): string {
  let next = 0;
  return template.replace(/%[sdij#%]/g, (p) => {
    if (p === "%%") return "%";
    if (p === "%#") return String(index);
    const value = args[next++];
    if (p === "%j") return JSON.stringify(value);
    if (p === "%d" || p === "%i") return String(p === "%i" ? Math.trunc(Number(value)) : Number(value));
    return typeof value === "string" ? value : String(value);
  });
}

function itImpl(name: string, fn: TestFn, _timeout?: number): void {
  register(name, fn);
}
itImpl.skip = (name: string, fn: TestFn) => register(name, fn, true);
itImpl.each =
  (table: readonly unknown[]) =>
  (template: string, fn: (...args: never[]) => unknown): void => {
    table.forEach((row, index) => {
      const args = Array.isArray(row) ? row : [row];
      register(title(template, args, index), () => (fn as (...a: unknown[]) => unknown)(...args));
    });
  };

function describeImpl(name: string, body: () => unknown): void {
  collect(name, body, false);
}
describeImpl.skip = (name: string, body: () => unknown) => collect(name, body, true);

export const it = itImpl as unknown as typeof vitest.it;
export const test = it;
export const describe = describeImpl as unknown as typeof vitest.describe;
export const beforeAll = ((hook: Hook) => void current.beforeAll.push(hook)) as typeof vitest.beforeAll;
export const afterAll = ((hook: Hook) => void current.afterAll.push(hook)) as typeof vitest.afterAll;
export const beforeEach = ((hook: Hook) => void current.beforeEach.push(hook)) as typeof vitest.beforeEach;
export const afterEach = ((hook: Hook) => void current.afterEach.push(hook)) as typeof vitest.afterEach;

// What vitest's createExpect does, less the per-test state (assertion counts, soft and poll), which these tests
// do not use.
chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);
const expectImpl = (value: unknown, message?: string) => chai.expect(value, message);
Object.assign(expectImpl, chai.expect);
Object.assign(expectImpl, (globalThis as unknown as Record<symbol, object>)[ASYMMETRIC_MATCHERS_OBJECT]);
export const expect = expectImpl as unknown as typeof vitest.expect;
