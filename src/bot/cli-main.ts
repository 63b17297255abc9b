/** Process entry of the CLI: user errors print one clear line and exit 2; anything else exits 1. */
import { printable } from '../../commands/options.ts';
import { isUserError } from '../errors/user-error.ts';
import { runCli } from './cli.ts';

/**
 * Beside every UserError, what the person at the command line answers for and a chat user does not:
 * the operator's own files and settings (a safetensors or kohya/diffusers file that cannot be read,
 * PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION values, a CUDA provider that is not installed, a checkpoint
 * that is not a Stable Diffusion one PairStyle reads). In the bot these stay the operator's failures.
 */
const OPERATOR_ERRORS = new Set(['SafetensorsError', 'PortableStyleError', 'ConfigError', 'DeviceUnavailableError', 'CheckpointError']);

/** An error the CLI answers with one line and exit status 2 (anything else is a bug: its stack trace, exit 1). */
export const isCliUserError = (e: unknown): boolean => isUserError(e) || OPERATOR_ERRORS.has((e as Error)?.name);

export async function main(argv: string[]): Promise<number> {
  try {
    return await runCli(argv, { out: (s) => console.log(s), err: (s) => process.stderr.write(s), isTTY: Boolean(process.stderr.isTTY) });
  } catch (e) {
    const err = e as Error;
    if (isCliUserError(err)) {
      console.error(`pairstyle: ${visible(err.message)}`);
      return 2;
    }
    console.error(visible(err.stack ?? String(err)));
    return 1;
  }
}

/** Text for the terminal: what the user typed is quoted back, but never an escape sequence or another control character. */
const visible = (s: string): string =>
  s
    .split('\n')
    .map((line) => printable(line, Infinity))
    .join('\n');
