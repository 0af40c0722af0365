// Structured JSON logs (pino) on stderr; one root logger, children per component.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: (destination as { fd?: number }).fd ?? 2, sync: false }),
  );
}

/** A logger that drops everything: for tests and libraries used without a daemon. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
