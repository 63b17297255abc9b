/**
 * File sizes and limits in words for people, said consistently: a size refused for being over a limit
 * is shown with enough precision to be visibly over it ("18.2 MB; the limit is 18 MB", and in bytes when
 * rounding would make them look equal: never "18.0 MB; the limit is 18 MB").
 */
import { msg, type Message } from '../src/i18n/message.ts';

const MB = 1e6;
const KB = 1e3;

/** A limit: '8 MB', '2.5 MB', or kilobytes under a megabyte ('500 KB'). */
export function limitText(n: number): string {
  if (n >= MB) return `${Number((n / MB).toFixed(2))} MB`;
  return `${Math.max(1, Math.round(n / KB))} KB`;
}

/** "<size>; the limit is <limit>" for a size over its limit, the size never shown as if it were within it (a catalogue message: `say` it). */
export function overLimitText(size: number, limit: number): Message {
  const [unit, name] = size >= MB ? [MB, msg('size.mb')] : [KB, msg('size.kb')];
  for (let digits = unit === MB ? 1 : 0; digits <= 3; digits++) {
    const shownSize = (size / unit).toFixed(digits);
    // The limit as limitText says it (two decimals of a megabyte), or finer when that is needed.
    const shownLimit = Number((limit / unit).toFixed(Math.max(digits, unit === MB ? 2 : 0)));
    if (Number(shownSize) > shownLimit) return msg('size.over-limit', { size: shownSize, unit: name, limit: shownLimit });
  }
  return msg('size.over-limit-bytes', { size: size.toLocaleString('en-US'), limit: limit.toLocaleString('en-US') });
}
