// DNS-1123 names as the API server checks them (apimachinery's IsDNS1123Label / IsDNS1123Subdomain),
// with its wording.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_MAX = 63;
const SUBDOMAIN_MAX = 253;

export const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

export function isDns1123Label(value: string): boolean {
  return value.length <= LABEL_MAX && LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= SUBDOMAIN_MAX && SUBDOMAIN.test(value);
}

/** What is wrong with `value` as a label (its length first), or undefined. */
export function dns1123LabelProblem(value: string): string | undefined {
  if (value.length > LABEL_MAX) return `must be no more than ${LABEL_MAX} characters`;
  return LABEL.test(value) ? undefined : LABEL_MESSAGE;
}

/** What is wrong with `value` as a subdomain (its length first), or undefined. */
export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value.length > SUBDOMAIN_MAX) return `must be no more than ${SUBDOMAIN_MAX} characters`;
  return SUBDOMAIN.test(value) ? undefined : SUBDOMAIN_MESSAGE;
}
