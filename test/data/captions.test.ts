import { describe, expect, it } from 'vitest';
import {
  buildKeywords,
  excludeReason,
  isCountryFlag,
  isSkinToneVariant,
  loadEmojibase,
  matchEmojibase,
  normaliseCodepoints,
  normaliseLabel,
  normaliseName,
} from '../../src/data/captions.ts';
import { listCandidates } from '../../src/data/build.ts';

describe('caption normalisation', () => {
  it('turns icon names into captions', () => {
    expect(normaliseName('dog-face')).toBe('dog face');
    expect(normaliseName('1st-place-medal')).toBe('1st place medal');
    expect(normaliseName('Face--With_Tears')).toBe('face with tears');
  });
  it('normalises emojibase labels, tags and shortcodes', () => {
    expect(normaliseLabel('flag: Japan')).toBe('flag japan');
    expect(normaliseLabel('Japanese “here” button')).toBe('japanese here button');
    expect(normaliseLabel('piñata')).toBe('pinata');
    expect(normaliseLabel('woman’s hat')).toBe('womans hat');
    expect(normaliseLabel('heart_eyes')).toBe('heart eyes');
    expect(normaliseLabel('A button (blood type)')).toBe('a button blood type');
  });
  it('normalises codepoint sequences', () => {
    expect(normaliseCodepoints('0031-FE0F-20E3')).toBe('31-20e3');
    expect(normaliseCodepoints('1f468-200d-1f4bb')).toBe('1f468-200d-1f4bb');
  });
});

describe('skin-tone filter', () => {
  it('catches the noto/twemoji/openmoji spellings', () => {
    for (const n of [
      'thumbs-up-light-skin-tone',
      'thumbs-up-medium-light-skin-tone',
      'thumbs-up-medium-skin-tone',
      'thumbs-up-medium-dark-skin-tone',
      'thumbs-up-dark-skin-tone',
      'man-dark-skin-tone-blond-hair',
      'handshake-light-skin-tone-dark-skin-tone',
      'dark-skin-tone',
      'breast-feeding-tone3',
    ]) {
      expect(isSkinToneVariant(n), n).toBe(true);
    }
  });
  it("catches fluent's bare suffixes only when the base icon exists", () => {
    const fluent = new Set(['thumbs-up', 'thumbs-up-dark', 'thumbs-up-medium-dark', 'vertical-traffic-light', 'flashlight']);
    expect(isSkinToneVariant('thumbs-up-dark', fluent)).toBe(true);
    expect(isSkinToneVariant('thumbs-up-medium-dark', fluent)).toBe(true);
    expect(isSkinToneVariant('vertical-traffic-light', fluent)).toBe(false);
    expect(isSkinToneVariant('flashlight', fluent)).toBe(false);
  });
  it('uses Fitzpatrick modifiers in codepoints', () => {
    expect(isSkinToneVariant('some-new-name', undefined, '1f44d-1f3fd')).toBe(true);
    expect(isSkinToneVariant('thumbs-up', undefined, '1f44d')).toBe(false);
  });
  it("keeps things that merely contain 'tone'", () => {
    for (const n of ['curling-stone', 'gem-stone', 'headstone', 'thumbs-up', 'light-bulb', 'dark-sunglasses']) {
      expect(isSkinToneVariant(n), n).toBe(false);
    }
  });
  it('no skin-tone variants survive in any pretraining set', () => {
    for (const set of ['noto', 'twemoji', 'fluent'] as const) {
      const names = listCandidates(set).candidates.map((c) => c.name);
      expect(names.filter((n) => /skin-tone|-tone[1-5]$/.test(n))).toEqual([]);
      if (set === 'fluent') {
        expect(names).toContain('thumbs-up');
        expect(names).not.toContain('thumbs-up-medium-dark');
        expect(names).toContain('vertical-traffic-light');
        expect(names).toContain('backhand-index-pointing-right'); // hFlip alias
      }
    }
  });
});

describe('flags', () => {
  it('drops country flags, keeps generic flags and regional-indicator letters', () => {
    expect(isCountryFlag('flag-japan', '1f1ef-1f1f5')).toBe(true);
    expect(isCountryFlag('flag-england', '1f3f4-e0067-e0062-e0065-e006e-e0067-e007f')).toBe(true);
    expect(isCountryFlag('flag-for-flag-japan')).toBe(true);
    expect(isCountryFlag('letter-a', '1f1e6')).toBe(false);
    expect(isCountryFlag('pirate-flag', '1f3f4-200d-2620')).toBe(false);
    expect(isCountryFlag('flag-in-hole', '26f3')).toBe(false);
    expect(excludeReason('rainbow-flag', undefined, '1f3f3-200d-1f308')).toBeNull();
  });
});

describe('emojibase enrichment', () => {
  it('matches by codepoint, label and multi-word shortcode', () => {
    const eb = loadEmojibase();
    const dog = matchEmojibase(eb, 'dog-face', '1f436');
    expect(dog.kind).toBe('codepoint');
    expect(dog.info?.label).toBe('dog face');
    expect(dog.info?.tags).toContain('puppy');
    expect(matchEmojibase(eb, 'dog-face').kind).toBe('label');
    expect(matchEmojibase(eb, 'two-men-holding-hands').info?.label).toBe('men holding hands');
    // single-word shortcodes are ambiguous: noto "pound" is the # sign
    expect(matchEmojibase(eb, 'pound').kind).toBe('none');
  });
  it('builds ordered keywords without the subject or duplicates', () => {
    const info = { label: 'smiling face with open hands', tags: ['face', 'hug', 'face'], shortcodes: ['hugs'] };
    expect(buildKeywords('hugging face', info, ['hugging face', 'open hands'])).toEqual(['smiling face with open hands', 'open hands', 'hugs', 'face', 'hug']);
  });
});
