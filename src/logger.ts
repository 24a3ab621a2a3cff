import { type Logger, pino } from 'pino';

/** The default logger (pino at 'info'), a given one, or a silent one for `false`. */
export function resolveLogger(logger: Logger | false | undefined): Logger {
  if (logger === false) return pino({ enabled: false });
  return logger ?? pino({ name: 'corral', level: 'info' });
}
