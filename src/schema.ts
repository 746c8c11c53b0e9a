/**
 * What wgqt's valibot schemas share (`wgqt.toml`, `plan.json`,
 * `manifest.json`, the transaction journal): tables and records as TOML and
 * JSON parse them, whole numbers, and a failed check in the words wgqt's
 * errors use. Pure.
 */
import * as v from "valibot";

/** Whether `value` is a table or a JSON object: not an array, nor a date (which TOML has). */
function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

/**
 * `schema`, refusing an array as it refuses a string. valibot's object
 * schemas take an array for an object (`[[machines.a]]` would read as a
 * table of unknown keys "0", "1", …).
 */
function refusingArrays<TSchema extends v.GenericSchema>(schema: TSchema): TSchema {
  const run = schema["~run"];
  return v._standardSchema<TSchema>({
    ...schema,
    "~run"(dataset, config) {
      if (Array.isArray(dataset.value)) {
        v._addIssue(this, "type", dataset, config);
        return dataset as unknown as ReturnType<TSchema["~run"]>;
      }
      return run.call(this, dataset, config) as ReturnType<TSchema["~run"]>;
    },
  });
}

/** A table with exactly these keys: any other is an error. */
export function table<const TEntries extends v.ObjectEntries>(
  entries: TEntries,
): v.StrictObjectSchema<TEntries, undefined> {
  return refusingArrays(v.strictObject(entries));
}

/** A table with these keys, and others that are left out of the result. */
export function openTable<const TEntries extends v.ObjectEntries>(
  entries: TEntries,
): v.ObjectSchema<TEntries, undefined> {
  return refusingArrays(v.object(entries));
}

/** A table of any keys, each holding a `value`; built by {@link record}. */
export interface RecordSchema<TValue extends v.GenericSchema>
  extends v.BaseSchema<
    Record<string, v.InferInput<TValue>>,
    Record<string, v.InferOutput<TValue>>,
    v.RecordIssue | v.InferIssue<TValue>
  > {
  readonly type: "record";
  readonly reference: typeof record;
  readonly expects: "Object";
  readonly value: TValue;
  readonly message: undefined;
}

/**
 * A table whose every key (a machine's name, a file's) holds a `value`.
 * valibot's `record` skips the keys "constructor" and "prototype", which are
 * fine host and file names; this one skips only `__proto__`, which no
 * object built here may have as its own key.
 */
export function record<const TValue extends v.GenericSchema>(value: TValue): RecordSchema<TValue> {
  return v._standardSchema<RecordSchema<TValue>>({
    kind: "schema",
    type: "record",
    reference: record,
    expects: "Object",
    async: false,
    value,
    message: undefined,
    "~run"(dataset, config) {
      const input = dataset.value;
      if (!isTable(input)) {
        v._addIssue(this, "type", dataset, config);
        return dataset as unknown as ReturnType<RecordSchema<TValue>["~run"]>;
      }
      const output: Record<string, unknown> = {};
      const issues: v.BaseIssue<unknown>[] = [];
      let typed = true;
      for (const key in input) {
        if (!Object.hasOwn(input, key) || key === "__proto__") continue;
        const entry = this.value["~run"]({ value: input[key] }, config);
        if (entry.issues) {
          const item: v.ObjectPathItem = {
            type: "object",
            origin: "value",
            input,
            key,
            value: input[key],
          };
          for (const issue of entry.issues) {
            issues.push({ ...issue, path: [item, ...(issue.path ?? [])] });
          }
          if (config.abortEarly) {
            typed = false;
            break;
          }
        }
        if (!entry.typed) typed = false;
        output[key] = entry.value;
      }
      const result =
        issues.length > 0 ? { typed, value: output, issues } : { typed, value: output };
      return result as unknown as ReturnType<RecordSchema<TValue>["~run"]>;
    },
  });
}

/** The largest number JSON and TOML hold exactly; a whole number beyond it is refused. */
const SAFE = Number.MAX_SAFE_INTEGER;

/** A finite number: NaN and the infinities TOML can write are refused. */
export const finiteNumber = v.pipe(v.number(), v.finite());

/** A whole number that a double holds exactly. */
export const wholeNumber = v.pipe(
  v.number(),
  v.finite(),
  v.integer(),
  v.minValue(-SAFE),
  v.maxValue(SAFE),
);

/** A failed check, as wgqt words it: where, and what was wrong. */
export type Problem =
  /** A key the table may not have (the first one, in the order of the input), at the table's path. */
  | { code: "unknown_key"; path: PropertyKey[]; key: string; keys: string[]; input: unknown }
  /** A value of the wrong type, or a required one missing (`input` undefined). */
  | { code: "invalid_type"; path: PropertyKey[]; expected: string; input: unknown }
  /** Anything else: a value out of range, or not of the form asked for. */
  | { code: "invalid_value"; path: PropertyKey[]; message: string; input: unknown };

/** The schema inside valibot's wrappers (defaults, optionals). */
function unwrap(schema: v.GenericSchema): v.GenericSchema {
  let current = schema as v.GenericSchema & { wrapped?: v.GenericSchema };
  while (current.type === "optional" && current.wrapped) current = current.wrapped;
  return current;
}

/**
 * The schema of the value at `path` in a document of `schema`, or undefined
 * when the path leads nowhere the schema describes.
 */
export function schemaAt(
  schema: v.GenericSchema,
  path: readonly PropertyKey[],
): v.GenericSchema | undefined {
  let current = unwrap(schema);
  for (const part of path) {
    const inner = current as {
      entries?: Record<string, v.GenericSchema>;
      value?: v.GenericSchema;
      item?: v.GenericSchema;
    };
    if (current.type === "strict_object" || current.type === "object") {
      const entry = typeof part === "string" && inner.entries ? inner.entries[part] : undefined;
      if (!entry || !Object.hasOwn(inner.entries!, part)) return undefined;
      current = unwrap(entry);
    } else if (current.type === "record" && inner.value) current = unwrap(inner.value);
    else if (current.type === "array" && inner.item && typeof part === "number")
      current = unwrap(inner.item);
    else return undefined;
  }
  return current;
}

/** The name of the type a schema checks for: `string`, `array`, `object`, `record`, … */
function typeName(schema: v.GenericSchema | undefined): string {
  const type = schema?.type ?? "value";
  return type === "strict_object" ? "object" : type;
}

/** `"private-key"|"preshared-key"` for a picklist, `1` for a literal. */
function valuesOf(schema: v.GenericSchema | undefined): string {
  const inner = schema as { options?: unknown[]; literal?: unknown } | undefined;
  const values = inner?.options ?? [inner?.literal];
  return values.map((value) => JSON.stringify(value)).join("|");
}

/**
 * The problem `issue` reports in a document of `schema`. The words are the
 * ones wgqt has always printed for each kind of problem, so that an error a
 * user has seen before reads the same.
 */
export function problemOf(schema: v.GenericSchema, issue: v.BaseIssue<unknown>): Problem {
  const items = issue.path ?? [];
  const path = items.map((item) => item.key as PropertyKey);
  const input = issue.input;
  if (issue.type === "strict_object" && issue.expected === "never") {
    const object = items.at(-1)!.input as Record<string, unknown>;
    const tablePath = path.slice(0, -1);
    const known = (schemaAt(schema, tablePath) as { entries?: object } | undefined)?.entries ?? {};
    const keys = Object.keys(object).filter((key) => !Object.hasOwn(known, key));
    return { code: "unknown_key", path: tablePath, key: String(path.at(-1)), keys, input: object };
  }
  if (issue.kind === "schema") {
    // A required key that is missing is reported by its table; the key's own schema names the type.
    const at = schemaAt(schema, path);
    if (at?.type === "literal") {
      const message = `Invalid input: expected ${valuesOf(at)}`;
      return { code: "invalid_value", path, message, input };
    }
    if (at?.type === "picklist") {
      const message = `Invalid option: expected one of ${valuesOf(at)}`;
      return { code: "invalid_value", path, message, input };
    }
    return { code: "invalid_type", path, expected: typeName(at), input };
  }
  const requirement = (issue as { requirement?: unknown }).requirement;
  switch (issue.type) {
    case "finite":
      return { code: "invalid_type", path, expected: "number", input };
    case "integer":
      return { code: "invalid_type", path, expected: "int", input };
    case "min_value":
    case "max_value": {
      const [size, sign] = issue.type === "min_value" ? ["small", ">="] : ["big", "<="];
      const kind = Math.abs(requirement as number) === SAFE ? "int" : "number";
      const message = `Too ${size}: expected ${kind} to be ${sign}${requirement}`;
      return { code: "invalid_value", path, message, input };
    }
    case "min_length": {
      const message = `Too small: expected string to have >=${requirement} characters`;
      return { code: "invalid_value", path, message, input };
    }
    case "regex": {
      const message = `Invalid string: must match pattern ${requirement}`;
      return { code: "invalid_value", path, message, input };
    }
    default:
      return { code: "invalid_value", path, message: issue.message, input };
  }
}

/** What a value is, in a message: `number`, `array`, `null`, `NaN`, … */
function receivedName(value: unknown): string {
  if (typeof value === "number")
    return Number.isNaN(value) ? "NaN" : Number.isFinite(value) ? "number" : "Infinity";
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value;
}

/**
 * `networks.1.port: Too big: expected number to be <=65535`: the first
 * problem of a file wgqt wrote itself (plan.json, manifest.json), for a
 * `store/corrupt` error.
 */
export function describeStoreIssue(schema: v.GenericSchema, issue: v.BaseIssue<unknown>): string {
  const problem = problemOf(schema, issue);
  const where = problem.path.map(String).join(".") || "(top level)";
  switch (problem.code) {
    case "unknown_key": {
      const plural = problem.keys.length > 1 ? "s" : "";
      return `${where}: Unrecognized key${plural}: ${problem.keys.map((key) => JSON.stringify(key)).join(", ")}`;
    }
    case "invalid_type":
      return `${where}: Invalid input: expected ${problem.expected}, received ${receivedName(problem.input)}`;
    default:
      return `${where}: ${problem.message}`;
  }
}
