/**
 * Execution providers: the CPU provider ships in the onnxruntime-node package; the CUDA provider's
 * libraries do not (too large for npm) and come only from running onnxruntime-node's install script with
 * --onnxruntime-node-install=cuda12, which downloads them into the package's binary folder. ORT lists
 * 'cuda' among its backends either way (listSupportedBackends: bundled false), and a session asked for
 * it without them fails with "Failed to load shared library" and no hint of the cure, so a CUDA request
 * is checked here first and every way it can fail names what to do.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import type { Device } from './device.ts';

export class DeviceUnavailableError extends Error {
  override name = 'DeviceUnavailableError';
}

/** onnxruntime-node's package folder, found from where Node resolves it (hoisted or nested). */
function ortPackageDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'onnxruntime-node') return dir;
  }
  throw new Error(`no onnxruntime-node package folder above ${entry}`);
}

/** The folder of this platform's native binding (bin/napi-v<N>/<platform>/<arch>/), where the provider libraries go. */
export function ortBinaryDir(): string {
  const bin = join(ortPackageDir(), 'bin');
  const napi = readdirSync(bin)
    .filter((d) => /^napi-v\d+$/.test(d))
    .sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
  for (const v of napi) {
    const dir = join(bin, v, process.platform, process.arch);
    if (existsSync(join(dir, 'onnxruntime_binding.node'))) return dir;
  }
  throw new Error(`onnxruntime-node has no native binding for ${process.platform}/${process.arch} under ${bin}`);
}

/**
 * What the CUDA provider loads from the binary folder: on Linux the files of onnxruntime-node 1.30's
 * cuda12 install manifest; on Windows, which that install does not cover, the names of ORT's GPU builds.
 */
const CUDA_PROVIDER_LIBS: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

/** The ways out, for every CUDA failure: install the provider, make CUDA findable, or use the CPU. */
function cudaRemedy(): string {
  const host = `${process.platform}/${process.arch}`;
  return [
    "To run on the GPU, install onnxruntime-node's CUDA 12 provider by running its install script (npm does",
    "not run it: this project's package.json denies it in allowScripts):",
    `  node ${join(ortPackageDir(), 'script', 'install.js')} --onnxruntime-node-install=cuda12`,
    ...(host === 'linux/x64' ? [] : [`  (onnxruntime-node's cuda12 install is for linux/x64; this host is ${host})`]),
    'The CUDA provider also needs CUDA 12 and cuDNN 9 on the library path (LD_LIBRARY_PATH) and an NVIDIA driver.',
    'Or run on the CPU: PAIRSTYLE_DEVICE=cpu (the pairstyle command: --device cpu).',
  ].join('\n');
}

/** The CUDA check's result: undefined = not made yet, null = installed, else why not (the files stay as they are while running). */
let cudaChecked: string | null | undefined;

function cudaProblem(): string | null {
  const libs = CUDA_PROVIDER_LIBS[process.platform];
  if (!libs) return `CUDA was asked for, but onnxruntime-node has no CUDA provider on ${process.platform}.\n${cudaRemedy()}`;
  const dir = ortBinaryDir();
  const missing = libs.filter((f) => !existsSync(join(dir, f)));
  if (!missing.length) return null;
  return `CUDA was asked for, but onnxruntime-node's CUDA provider is not installed: ${dir} has no ${missing.join(', ')}.\n${cudaRemedy()}`;
}

/**
 * Throws DeviceUnavailableError when `device` cannot run here. For CUDA this checks that the provider
 * libraries are installed; whether CUDA 12, cuDNN 9 and a GPU are there shows only when a session is
 * made (cudaSessionError).
 */
export function checkDevice(device: Device): void {
  if (device === 'cpu') return;
  if (cudaChecked === undefined) cudaChecked = cudaProblem();
  if (cudaChecked) throw new DeviceUnavailableError(cudaChecked);
}

/**
 * ORT's errors from making a CUDA session that mean the provider or CUDA itself could not be loaded
 * (ORT throws "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library" and logs
 * the library it missed), as opposed to a model or memory error.
 */
const CUDA_LOAD_FAILURE =
  /AppendExecutionProvider_Cuda|Failed to load (shared )?library|cannot open shared object|lib(cudart|cudnn|cublas)|no CUDA-capable device|CUDA driver version is insufficient/i;

/** A DeviceUnavailableError with the remedy for an ORT error that says CUDA could not be loaded; any other error as it is. */
export function cudaSessionError(e: unknown): unknown {
  const message = e instanceof Error ? e.message : String(e);
  if (!CUDA_LOAD_FAILURE.test(message)) return e;
  return new DeviceUnavailableError(`CUDA was asked for, but onnxruntime could not start its CUDA provider: ${message.split('\n')[0]}\n${cudaRemedy()}`, {
    cause: e,
  });
}
