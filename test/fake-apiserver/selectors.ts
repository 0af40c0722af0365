// Field and label selectors, as list and watch take them.
import { ApiError } from './api-error.ts';
import type { ApiObject } from './api-object.ts';
import type { ResourceType } from './resource-types.ts';

export interface Selector {
  fields: { key: string; op: '=' | '!='; value: string }[];
  labels: ((labels: Record<string, string>) => boolean)[];
}

function parseFieldSelector(type: ResourceType, text: string | null): Selector['fields'] {
  if (!text) return [];
  const supported = Object.keys(type.fields({ metadata: {} }));
  return text.split(',').map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (m === null) throw new ApiError(400, 'BadRequest', `invalid field selector: ${JSON.stringify(term)}`);
    const key = m[1]!.trim();
    if (!supported.includes(key)) throw new ApiError(400, 'BadRequest', `field label not supported: ${key}`);
    return { key, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() };
  });
}

function parseLabelSelector(text: string | null): Selector['labels'] {
  if (!text) return [];
  return text.split(',').map((raw) => {
    const term = raw.trim();
    let m = /^!([\w./-]+)$/.exec(term);
    if (m) return (l) => !(m![1]! in l);
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    m = /^([\w./-]+)$/.exec(term);
    if (m) return (l) => m![1]! in l;
    throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(term)}`);
  });
}

export function parseSelector(type: ResourceType, query: URLSearchParams): Selector {
  return { fields: parseFieldSelector(type, query.get('fieldSelector')), labels: parseLabelSelector(query.get('labelSelector')) };
}

export function matches(type: ResourceType, selector: Selector, obj: ApiObject): boolean {
  const fields = type.fields(obj);
  for (const f of selector.fields) if ((fields[f.key] === f.value) !== (f.op === '=')) return false;
  return selector.labels.every((test) => test(obj.metadata.labels ?? {}));
}

/** The name a `metadata.name=` field selector asks for, if it asks for exactly one. */
export function selectedName(selector: Selector): string | undefined {
  return selector.fields.find((f) => f.key === 'metadata.name' && f.op === '=')?.value;
}
