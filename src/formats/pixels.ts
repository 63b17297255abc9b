/**
 * Pixel values between their two forms: interleaved uint8 RGB (what images decode to and PNGs encode
 * from) and float32 [3, H, W] in [-1, 1] (what the models take and give). A leaf, so that src/images can
 * convert without importing the engine.
 */

/** Interleaved uint8 pixels (HWC; RGB, or RGBA whose alpha is ignored) -> float32 [3, H, W] in [-1, 1]. */
export function rgbToUnit(pixels: Uint8Array, width: number, height: number, channels = 3): Float32Array {
  if (channels < 3) throw new Error(`rgbToUnit: need at least 3 channels, got ${channels}`);
  if (pixels.length !== width * height * channels) throw new Error(`rgbToUnit: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  const out = new Float32Array(3 * width * height);
  const plane = width * height;
  for (let k = 0; k < plane; k++) for (let c = 0; c < 3; c++) out[c * plane + k] = pixels[k * channels + c] / 127.5 - 1;
  return out;
}

/** float32 [3, H, W] in [-1, 1] -> interleaved uint8 RGB (HWC), rounded and clamped. */
export function unitToRgb(chw: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  if (chw.length !== 3 * plane) throw new Error(`unitToRgb: ${chw.length} values for 3x${height}x${width}`);
  const out = new Uint8Array(3 * plane);
  for (let k = 0; k < plane; k++) for (let c = 0; c < 3; c++) out[k * 3 + c] = Math.min(255, Math.max(0, Math.round((chw[c * plane + k] + 1) * 127.5)));
  return out;
}
