/**
 * PyTorch weight files told apart from other files by their first bytes, so that a message only calls a
 * file a PyTorch checkpoint when it is one: torch.save writes a zip whose first entry is
 * `<archive>/data.pkl` (since PyTorch 1.6), or before that a bare pickle stream (0x80, protocol 2-5).
 * PairStyle reads neither (pickles can run code); it reads .safetensors.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** 'zip' or 'pickle' for a PyTorch checkpoint, undefined for anything else (or an unreadable file). */
export function pytorchFormatOf(path: string): 'zip' | 'pickle' | undefined {
  const head = Buffer.alloc(256);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const b = head.subarray(0, n);
  if (b.length >= 30 && b.readUInt32LE(0) === 0x04034b50 && b.includes('data.pkl')) return 'zip';
  if (b.length >= 2 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return 'pickle';
  return undefined;
}

/** Why a weights file that is not .safetensors is not read, in words: "is a PyTorch pickle checkpoint, ..." or "is not a model file ...". */
export function unreadableWeightsReason(path: string): string {
  return pytorchFormatOf(path)
    ? 'is a PyTorch pickle checkpoint, which is not read: convert it to .safetensors'
    : 'is not a model file PairStyle reads (a model folder, a diffusers folder or a .safetensors checkpoint)';
}
