// Field errors worded as the API server's field.ErrorList prints them (`<path>: Required value`,
// `Invalid value: "x": …`, …), collected for one object.

export class FieldErrors {
  readonly list: string[] = [];
  required(path: string, detail = ''): void {
    this.list.push(`${path}: Required value${detail ? `: ${detail}` : ''}`);
  }
  invalid(path: string, value: unknown, detail: string): void {
    this.list.push(`${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`);
  }
  duplicate(path: string, value: unknown): void {
    this.list.push(`${path}: Duplicate value: ${JSON.stringify(value)}`);
  }
  notFound(path: string, value: unknown): void {
    this.list.push(`${path}: Not found: ${JSON.stringify(value)}`);
  }
  notSupported(path: string, value: unknown, supported: readonly string[]): void {
    this.list.push(
      `${path}: Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
    );
  }
  forbidden(path: string, detail: string): void {
    this.list.push(`${path}: Forbidden: ${detail}`);
  }
}
