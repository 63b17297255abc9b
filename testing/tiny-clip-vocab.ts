/**
 * A hand-made CLIP-style BPE vocabulary: the 256 byte characters, the same with '</w>', the merges'
 * results in merge order, then <|startoftext|> and <|endoftext|> (the layout of CLIP's 49,408 tokens).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BYTE_TO_CHAR } from '../src/models/tokenizers/clip-bpe.ts';

export const TINY_MERGES = [
  'h e',
  'l l',
  'he ll',
  'hell o</w>',
  'c a',
  'ca t</w>',
  'd o',
  'do g</w>',
  "' s</w>",
  'a n',
  'an d</w>',
  'p h',
  'ph o',
  'pho to</w>',
  't o</w>',
  's *</w>',
];

export function tinyClipVocab(): Record<string, number> {
  const tokens = [...BYTE_TO_CHAR, ...BYTE_TO_CHAR.map((c) => `${c}</w>`)];
  for (const m of TINY_MERGES) tokens.push(m.replace(' ', ''));
  tokens.push('<|startoftext|>', '<|endoftext|>');
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

/** A tokenizer/ folder as SD 1.x ships it (vocab.json, merges.txt, special_tokens_map.json). */
export function writeTinyClipTokenizerDir(pad = '<|endoftext|>'): string {
  const dir = mkdtempSync(join(tmpdir(), 'pairstyle-clip-tok-'));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(tinyClipVocab()));
  writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...TINY_MERGES].join('\n') + '\n');
  writeFileSync(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({
      bos_token: { content: '<|startoftext|>' },
      eos_token: { content: '<|endoftext|>' },
      pad_token: pad,
      unk_token: { content: '<|endoftext|>' },
    }),
  );
  return dir;
}
