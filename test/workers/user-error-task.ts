/** An engine-thread task for the tests: refuses with a user error (a bad style name), as a real task refuses bad input. */
import { checkStyleName } from '../../src/store/style-directory.ts';

export async function refuse(args: { name: string }): Promise<string> {
  return checkStyleName(args.name);
}
