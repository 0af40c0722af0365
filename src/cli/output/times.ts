// Times in Go's formats (crictl and kubectl are Go programs), in the local time zone.

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function localParts(nanos: bigint): { date: Date; fraction: string; offsetMinutes: number } {
  const ms = Number(nanos / 1_000_000n);
  const date = new Date(ms);
  let frac = nanos % 1_000_000_000n;
  if (frac < 0n) frac += 1_000_000_000n;
  return { date, fraction: frac.toString().padStart(9, '0').replace(/0+$/, ''), offsetMinutes: -date.getTimezoneOffset() };
}

function localDateTime(date: Date, sep: string): string {
  return (
    `${String(date.getFullYear()).padStart(4, '0')}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}` +
    `${sep}${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`
  );
}

function offsetString(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.trunc(abs / 60))}${colon ? ':' : ''}${pad2(abs % 60)}`;
}

/** Go's `time.Unix(0, nanos).Format(time.RFC3339Nano)` in the local time zone. */
export function rfc3339Nano(nanos: bigint): string {
  const { date, fraction, offsetMinutes } = localParts(nanos);
  const zone = offsetMinutes === 0 ? 'Z' : offsetString(offsetMinutes, true);
  return `${localDateTime(date, 'T')}${fraction === '' ? '' : `.${fraction}`}${zone}`;
}

/** Go's zero time in RFC 3339, which crictl prints for a time that has not happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go's `time.Time.String()` of a CRI timestamp: "2024-01-02 03:04:05.123456789 +0000 UTC". */
export function goTimeString(nanos: bigint): string {
  const { date, fraction, offsetMinutes } = localParts(nanos);
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ??
    offsetString(offsetMinutes, false);
  return `${localDateTime(date, ' ')}${fraction === '' ? '' : `.${fraction}`} ${offsetString(offsetMinutes, false)} ${zone}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123Z in the local time zone: "Mon, 02 Jan 2006 15:04:05 -0700". */
export function rfc1123z(timestamp: string | undefined): string {
  const at = timestamp === undefined ? Number.NaN : Date.parse(timestamp);
  if (Number.isNaN(at)) return '';
  const d = new Date(at);
  const two = pad2;
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.trunc(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `${DAYS[d.getDay()]}, ${two(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}
