// `$(VAR)` references as Kubernetes expands them in env values, command and args
// (k8s.io/kubernetes third_party/forked/golang/expansion): `$$` is an escaped `$`, a reference to
// an unknown variable and an unclosed `$(` are left as written.

/** Expands `$(NAME)` in `input` with `lookup`; an undefined lookup keeps the reference as written. */
export function expandVariables(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) {
        out += '$(';
      } else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - cursor;
      }
    } else {
      out += `$${next}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A lookup over several maps, the first holding the name wins. */
export function lookupIn(...maps: ReadonlyMap<string, string>[]): (name: string) => string | undefined {
  return (name) => {
    for (const map of maps) {
      const value = map.get(name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
