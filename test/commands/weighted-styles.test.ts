/** The weighted style list parser (`openmoji::2 crayon::1`): entries, weights, refusals; the weights a draw gets; autocomplete's split. */
import { describe, expect, it } from 'vitest';
import { autocompleteStyles } from '../../commands/index.ts';
import { MAX_STYLES, parseStyleList, splitLastEntry, styleWeights } from '../../commands/weighted-styles.ts';
import { messageIn } from '../../src/errors/user-error.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';

describe('weighted style lists', () => {
  it('reads names with optional weights, separated by spaces or commas, spaces around :: allowed', () => {
    expect(parseStyleList('OpenMoji')).toEqual([{ name: 'openmoji', weight: 1, weighted: false }]);
    expect(parseStyleList('openmoji::2 crayon::1')).toEqual([
      { name: 'openmoji', weight: 2, weighted: true },
      { name: 'crayon', weight: 1, weighted: true },
    ]);
    expect(parseStyleList(' openmoji :: 1.5, crayon,ink::.5 ').map((s) => [s.name, s.weight])).toEqual([
      ['openmoji', 1.5],
      ['crayon', 1],
      ['ink', 0.5],
    ]);
  });

  it('shares the strength in proportion to the weights', () => {
    expect(styleWeights(parseStyleList('openmoji::2 crayon::1'), 3)).toEqual([2, 1]);
    expect(styleWeights(parseStyleList('a b c'), 3)).toEqual([1, 1, 1]);
    expect(styleWeights(parseStyleList('a::1 b::2'), 4)).toEqual([1.33, 2.67]);
  });

  it.each([
    ['openmoji::0 crayon', /the weight of 'openmoji' is 0: leave 'openmoji' out/],
    ['openmoji::-2 crayon', /the weight of 'openmoji' is negative \(-2\)/],
    ['openmoji::lots', /the weight of 'openmoji' must be a number, got 'lots'/],
    ['openmoji::Infinity', /must be a number, got 'Infinity'/],
    ['openmoji::1000', /weights go up to 100/],
    ['openmoji::', /'openmoji::' has no weight after '::'/],
    ['::2 crayon', /'::2' has a weight but no style name/],
    ['openmoji::2::3', /more than one '::'/],
    ['openmoji:2', /put two colons between a style and its weight/],
    ['openmoji,,crayon', /entry 2 of the style list is empty/],
    [' , ', /entry 1 of the style list is empty/],
    ['', /no style given/],
    ['openmoji crayon::2 OpenMoji::1', /'openmoji' is in the list twice/],
    ['a b c d e', new RegExp(`5 styles is too many: at most ${MAX_STYLES}`)],
    ['open!moji::2', /'open!moji' is not a valid style name/],
  ])('refuses %j clearly', (text, message) => {
    expect(() => parseStyleList(text)).toThrow(message);
  });

  it('says its refusals in the user’s language (German and French, from the catalogue)', () => {
    const refusal = (text: string) => {
      try {
        parseStyleList(text);
      } catch (e) {
        return e as Error;
      }
      throw new Error(`'${text}' was accepted`);
    };
    const zero = refusal('openmoji::0 crayon');
    expect(messageIn(zero, 'de')).toBe("das Gewicht von 'openmoji' ist 0: lass 'openmoji' lieber weg, oder gib ihm ein Gewicht über 0");
    expect(messageIn(zero, 'fr')).toBe("le poids de 'openmoji' est 0 : retire plutôt 'openmoji', ou donne-lui un poids supérieur à 0");
    const empty = refusal('openmoji,,crayon');
    expect(messageIn(empty, 'de')).toMatch(/^Eintrag 2 der Stilliste ist leer .*openmoji::2 crayon::1$/);
    expect(messageIn(empty, 'fr')).toMatch(/^l’entrée 2 de la liste de styles est vide .*openmoji::2 crayon::1$/);
  });

  it('splits the last entry off for autocomplete, keeping what comes before and its weight', () => {
    expect(splitLastEntry('')).toEqual({ head: '', prefix: '', tail: '' });
    expect(splitLastEntry('open')).toEqual({ head: '', prefix: 'open', tail: '' });
    expect(splitLastEntry('openmoji::2 cr')).toEqual({ head: 'openmoji::2 ', prefix: 'cr', tail: '' });
    expect(splitLastEntry('openmoji::2, cr::1')).toEqual({ head: 'openmoji::2, ', prefix: 'cr', tail: '::1' });
  });

  it('autocompletes the last name of a list from the styles the user can use, not offering a name twice', async () => {
    const registry = new StyleRegistry(await openKeyv('memory:'));
    const me = { platform: 'discord', workspace: 'g1', user: 'me' };
    for (const n of ['crayon', 'crisp', 'openmoji']) await registry.put(me, n, new Uint8Array([1]), {});
    const ctx = { who: me, registry };
    expect(await autocompleteStyles(ctx, 'openmoji::2 cr')).toEqual([
      { name: 'openmoji::2 crayon (yours)', value: 'openmoji::2 crayon' },
      { name: 'openmoji::2 crisp (yours)', value: 'openmoji::2 crisp' },
    ]);
    expect((await autocompleteStyles(ctx, 'openmoji::2 crayon::1 ')).map((c) => c.value)).toEqual(['openmoji::2 crayon::1 crisp']);
    expect((await autocompleteStyles(ctx, 'crayon, o::3')).map((c) => c.value)).toEqual(['crayon, openmoji::3']);
  });
});
