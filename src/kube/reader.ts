// Reading JSON nobody vouches for (decode.ts is the boundary that uses it): each field
// read as the type it must have, a field of another type left out and named in a
// problem, never a throw.
import { maxLoggedStringChars } from '../shared/limits.ts';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v}`;
}

export class Reader {
  readonly problems: string[] = [];

  #wrong(path: string, expected: string, v: unknown): undefined {
    this.problems.push(`${path}: expected ${expected}, got ${kind(v)}`);
    return undefined;
  }

  obj(o: Obj | undefined, key: string, path: string): Obj | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return isObj(v) ? v : this.#wrong(`${path}.${key}`, 'an object', v);
  }

  str(o: Obj | undefined, key: string, path: string, cut = false): string | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return this.#wrong(`${path}.${key}`, 'a string', v);
    return cut && v.length > maxLoggedStringChars ? `${v.slice(0, maxLoggedStringChars)}... (${v.length} characters)` : v;
  }

  bool(o: Obj | undefined, key: string, path: string): boolean | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'boolean' ? v : this.#wrong(`${path}.${key}`, 'a boolean', v);
  }

  int(o: Obj | undefined, key: string, path: string): number | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : this.#wrong(`${path}.${key}`, 'an integer', v);
  }

  /** A list of objects; an element that is not one is left out and named. */
  list(o: Obj | undefined, key: string, path: string): { item: Obj; at: string }[] | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return this.#wrong(`${path}.${key}`, 'an array', v);
    const out: { item: Obj; at: string }[] = [];
    v.forEach((item, i) => {
      const name = isObj(item) && typeof item.name === 'string' ? item.name.slice(0, 64) : String(i);
      if (isObj(item)) out.push({ item, at: `${path}.${key}[${name}]` });
      else this.#wrong(`${path}.${key}[${i}]`, 'an object', item);
    });
    return out;
  }

  strings(o: Obj | undefined, key: string, path: string): string[] | undefined {
    const v = o?.[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return this.#wrong(`${path}.${key}`, 'an array of strings', v);
    return v as string[];
  }

  stringMap(o: Obj | undefined, key: string, path: string): Record<string, string> | undefined {
    const m = this.obj(o, key, path);
    if (!m) return undefined;
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'string') out[k] = v;
      else this.#wrong(`${path}.${key}[${k}]`, 'a string', v);
    }
    return out;
  }
}
