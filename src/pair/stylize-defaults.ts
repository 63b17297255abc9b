/**
 * The defaults of stylize's two user options, chosen on the embedded model by eval:stylize (README,
 * "Stylize your own picture"): keep 0.6 (12 of 30 steps of style) and strength 1.5. A leaf module, so
 * that the commands (which may not import the engine) and STYLIZE_DEFAULTS (src/pair/stylize.ts) read
 * the same numbers.
 */
export const STYLIZE_OPTION_DEFAULTS = { strength: 1.5, keep: 0.6 } as const;
