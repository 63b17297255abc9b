// A full disk for a test process (node --import this file): every write to a file under
// PAIRSTYLE_TEST_FULL_DISK_DIR beyond PAIRSTYLE_TEST_FULL_DISK_FREE bytes in all fails with ENOSPC
// after writing what still fits, as the kernel answers when a disk fills up. Everything else of the
// process is untouched. Test use only (test/helpers/cli-process.ts).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

const dir = resolve(process.env.PAIRSTYLE_TEST_FULL_DISK_DIR ?? '/nonexistent');
let free = Number(process.env.PAIRSTYLE_TEST_FULL_DISK_FREE ?? 0);
const onDisk = (p) => (typeof p === 'string' || p instanceof URL ? (resolve(String(p instanceof URL ? p.pathname : p)) + sep).startsWith(dir + sep) : false);
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
const bytesOf = (data) => (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/** Writes what fits of `data` with `write(part)`, then fails like a full disk. */
async function fill(data, write) {
  const b = bytesOf(data);
  const fits = Math.max(0, Math.min(free, b.length));
  free -= fits;
  if (fits > 0) await write(b.subarray(0, fits));
  if (fits < b.length) throw enospc();
}

const open = fs.promises.open;
fs.promises.open = async function (path, ...rest) {
  const handle = await open.call(this, path, ...rest);
  if (!onDisk(path)) return handle;
  const writeFile = handle.writeFile.bind(handle);
  const write = handle.write.bind(handle);
  handle.writeFile = (data) => fill(data, (part) => writeFile(part));
  handle.write = async (data, ...args) => {
    if (typeof data === 'string' || args.length === 0) {
      await fill(data, (part) => write(part));
      return { bytesWritten: bytesOf(data).length, buffer: data };
    }
    const [offset = 0, length = data.byteLength - offset, position] = args;
    await fill(bytesOf(data).subarray(offset, offset + length), (part) => write(part, 0, part.length, position));
    return { bytesWritten: length, buffer: data };
  };
  return handle;
};
const writeFileP = fs.promises.writeFile;
fs.promises.writeFile = async (path, data, ...rest) => {
  if (!onDisk(path)) return writeFileP(path, data, ...rest);
  await writeFileP(path, '');
  return fill(data, (part) => fs.promises.appendFile(path, part));
};
syncBuiltinESMExports();
