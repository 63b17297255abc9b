import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, cleanText, ClipTokenizer } from '../../../src/models/tokenizers/clip-bpe.ts';
import { tinyClipVocab, TINY_MERGES } from '../../../testing/tiny-clip-vocab.ts';

const tok = new ClipTokenizer(tinyClipVocab(), TINY_MERGES);
/** A piece no merge touches: its UTF-8 bytes as characters, the last one ending the word. */
function bytePiece(s: string): string[] {
  const bytes = new TextEncoder().encode(s);
  return Array.from(bytes, (b, i) => BYTE_TO_CHAR[b] + (i === bytes.length - 1 ? '</w>' : ''));
}

// Each expectation follows from CLIP's cleaning: ftfy.fix_text (defaults), html.unescape twice,
// whitespace runs (Python's str.isspace) -> ' ', trimmed, lower-cased.
const CLEANING: [what: string, input: string, cleaned: string][] = [
  ['an entity', 'cat &amp; dog', 'cat & dog'],
  ['an entity escaped twice', 'A &amp;amp; B', 'a & b'],
  ['an entity escaped four times (ftfy repeats until nothing changes)', 'A &amp;amp;amp;amp; B', 'a & b'],
  ['HTML: ftfy leaves it, html.unescape twice still reads it', '<b>&amp;amp;</b> cat', '<b>&</b> cat'],
  ['from the first line with a "<" on, ftfy leaves entities', 'x <y\n&amp;amp;amp; z', 'x <y &amp; z'],
  ['legacy entities without ";" and the longest legacy prefix', '&amp\n&ampxyz; &notit; &not;', '& &xyz; ¬it; ¬'],
  ['all-caps entities (ftfy), but not mixed case', '&EACUTE;t&eacute; &NTILDE; &nTILDE; &SZLIG;', 'été ñ &ntilde; ss'],
  ['HTML5 names', '&bigstar; &frac12; &FRAC12; &Tab;a&NewLine;b', '★ ½ ½ a b'],
  ['numeric references', '&#65;&#x42;&#X43; &#x1F600; &#128512;', 'abc 😀 😀'],
  ['numeric references the standard repairs', '&#128; &#x85; &#0; &#xD800; &#x110000; &#1;x &#12;y', '€ … � � � x y'],
  ['references that are not', '&#59; &#65abc; &# &unknown; &unknown', '; aabc; &# &unknown; &unknown'],
  ['form feed is whitespace', 'a\fb', 'a b'],
  ['vertical tab and \\x1c-\\x1f are removed (ftfy) before they could be whitespace', 'a\vb \x1cc\x1fd', 'ab cd'],
  ['\\x85 and other C1 controls read as Windows-1252', 'a\x85b \x93quoted\x94', 'a…b "quoted"'],
  ["Python's other whitespace", 'a\xa0b\u1680c\u2000d\u200ae\u2028f\u2029g\u202fh\u205fi\u3000j', 'a b c d e f g h i j'],
  ['zero-width space is not whitespace; the BOM is removed', 'a\u200bb\ufeffc', 'a\u200bbc'],
  ['curly quotes', '\u201cHello\u201d \u2018world\u2019 it\u02bcs', "\"hello\" 'world' it's"],
  ['full-width and half-width forms', '\uff21\uff22\uff23 \uff11\uff12\uff01 \uff71\uff9d', 'abc 12! アン'],
  ['Latin ligatures and digraphs (not æ)', '\ufb01sh \ufb02ower \ufb03 \ufb05 \u0133 \u01c4 æ', 'fish flower ffi ſt ij dž æ'],
  ['terminal colour codes', '\x1b[31mred\x1b[0m cat', 'red cat'],
  ['invisible controls', '\u206acat\ufffc\x7f', 'cat'],
  ['line breaks', 'line1\r\nline2\rline3', 'line1 line2 line3'],
  ['NFC after unescaping', 'cafe\u0301 caf&eacute;', 'café café'],
  ['a non-breaking space made by unescaping', '&amp;nbsp;cat', 'cat'],
  ['emoji sequences and CJK kept', '👩\u200d🎨 猫の写真', '👩\u200d🎨 猫の写真'],
  ['final sigma when lower-casing', 'ΟΔΟΣ', 'οδος'],
];

describe("CLIP's prompt cleaning (ftfy's fixes, HTML unescaped twice, Python's whitespace)", () => {
  it.each(CLEANING)('%s', (_what, input, cleaned) => {
    expect(cleanText(input)).toBe(cleaned);
  });

  it('gives the token sequences of the cleaned text', () => {
    expect(tok.tokenize('cat &amp; dog')).toEqual(['cat</w>', '&</w>', 'dog</w>']);
    expect(tok.tokenize('cat &amp;amp; dog')).toEqual(['cat</w>', '&</w>', 'dog</w>']);
    expect(tok.tokenize('cat\fdog')).toEqual(['cat</w>', 'dog</w>']);
    expect(tok.tokenize('cat\x85dog')).toEqual(['cat</w>', ...bytePiece('…'), 'dog</w>']);
    expect(tok.tokenize('\u201chello\u201d cat\u2019s')).toEqual(['"</w>', 'hello</w>', '"</w>', 'cat</w>', "'s</w>"]);
    expect(tok.tokenize('\uff28\uff25\uff2c\uff2c\uff2f\u3000\uff43\uff41\uff54')).toEqual(['hello</w>', 'cat</w>']);
    expect(tok.tokenize('\ufb01sh')).toEqual(bytePiece('fish'));
    expect(tok.tokenize('&lt;3 cats')).toEqual(['<</w>', '3</w>', 'ca', 't', 's</w>']);
  });
});
