// Checks a decoded manifest against a FieldType schema: wrong JSON types are errors, fields the
// schema does not know are warnings; nulls are dropped, as Go's JSON decoding leaves them unset.
import { isQuantity } from '../quantity.ts';
import type { FieldType } from './pod-schema.ts';

export interface ShapeIssues {
  errors: string[];
  warnings: string[];
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 80) ?? String(value);
}

function expected(type: FieldType): string {
  if (typeof type === 'string') {
    return {
      string: 'a string',
      integer: 'an integer',
      boolean: 'true or false',
      intOrString: 'an integer or a string',
      quantity: 'a quantity such as 100m or 64Mi',
      any: 'anything',
    }[type];
  }
  if ('list' in type) return 'a list';
  return 'an object';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function matchesScalar(value: unknown, type: Exclude<FieldType, object>): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'intOrString':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
    case 'quantity':
      return isQuantity(value);
    case 'any':
      return true;
  }
}

/** Returns the value with nulls removed; `issues` collects what is wrong, paths as `spec.containers[0].image`. */
export function checkShape(value: unknown, type: FieldType, path: string, issues: ShapeIssues): unknown {
  if (typeof type === 'string') {
    if (!matchesScalar(value, type)) issues.errors.push(`${path}: Invalid value: ${describe(value)}: must be ${expected(type)}`);
    return value;
  }
  if ('list' in type) {
    if (!Array.isArray(value)) {
      issues.errors.push(`${path}: Invalid value: ${describe(value)}: must be ${expected(type)}`);
      return value;
    }
    return value.map((item, i) => checkShape(item, type.list, `${path}[${i}]`, issues));
  }
  if (!isPlainObject(value)) {
    issues.errors.push(`${path}: Invalid value: ${describe(value)}: must be ${expected(type)}`);
    return value;
  }
  const result: Record<string, unknown> = {};
  const fields = 'object' in type ? type.object : undefined;
  for (const [key, child] of Object.entries(value)) {
    if (child === null) continue;
    const childPath = path === '' ? key : `${path}.${key}`;
    const childType = fields === undefined ? (type as { map: FieldType }).map : fields[key];
    if (childType === undefined) {
      issues.warnings.push(`unknown field "${childPath}"`);
      result[key] = child;
      continue;
    }
    result[key] = checkShape(child, childType, fields === undefined ? `${path}[${key}]` : childPath, issues);
  }
  return result;
}
