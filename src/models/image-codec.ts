/**
 * What turns images into what the UNet works on and back: the lossless pixel codec (pixel-codec.ts) or
 * a VAE (vae.ts).
 */
export interface ImageCodec {
  /** Latent [channels, height, width] of one image. */
  readonly latentShape: readonly [number, number, number];
  /** Images [B, 3, H, W] in [-1, 1] -> latents [B, ...latentShape]. */
  encode(images: Float32Array, batch: number): Promise<Float32Array>;
  /** Latents -> images [B, 3, H, W] in [-1, 1]. */
  decode(latents: Float32Array, batch: number): Promise<Float32Array>;
}
