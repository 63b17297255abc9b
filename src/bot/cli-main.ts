/** Process entry of the CLI: user errors print one clear line and exit 2; anything else exits 1. */
import { runCli } from './cli.ts';

const USER_ERRORS = new Set([
  'UsageError',
  'StyleNameError',
  'ImageInputError',
  'ModelMissingError',
  'StyleFileError',
  'SafetensorsError',
  'PortableStyleError',
  // The model settings: PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION values, a CUDA provider that is not
  // installed, a checkpoint that is not a Stable Diffusion one PairStyle reads.
  'ConfigError',
  'DeviceUnavailableError',
  'CheckpointError',
]);

export async function main(argv: string[]): Promise<number> {
  try {
    return await runCli(argv, { out: (s) => console.log(s), err: (s) => process.stderr.write(s), isTTY: Boolean(process.stderr.isTTY) });
  } catch (e) {
    const err = e as Error;
    if (USER_ERRORS.has(err.name)) {
      console.error(`pairstyle: ${err.message}`);
      return 2;
    }
    console.error(err.stack ?? String(err));
    return 1;
  }
}
