/**
 * CLIP's prompt cleaning (openai/CLIP simple_tokenizer.py: whitespace_clean(basic_clean(text)).lower()),
 * where basic_clean is ftfy.fix_text (default settings), then Python's html.unescape twice, then strip:
 *
 *   1. ftfy.fix_text, line by line ("segments" ending in '\n'), each repeated until nothing changes:
 *      HTML entities (only the unambiguous ones ending in ';', plus all-caps forms of lower-case names
 *      such as &EACUTE;; from the first line that has a '<' on, the text is taken for HTML and left
 *      alone), C1 controls read as Windows-1252 (\x85 -> '…', \x93 -> '“'), Latin ligatures split
 *      ('ﬁ' -> 'fi'), full-width and half-width forms to their usual width ('Ａ' -> 'A', U+3000 -> ' '),
 *      curly quotes straightened, line breaks (\r\n, \r, U+2028, U+2029, \x85) -> '\n', lone UTF-16
 *      surrogates -> U+FFFD, ANSI terminal escapes removed, invisible control characters removed
 *      (U+00-08, U+0B, U+0E-1F, U+7F, U+206A-206F, U+FEFF, U+FFF9-FFFC), then NFC.
 *      Not done: ftfy's mojibake repair (fix_encoding: guessing that 'Ã©' was 'é' read in the wrong
 *      encoding); it is a statistical guess about broken text, not a rule, and prompts typed into a
 *      bot are not mojibake.
 *   2. html.unescape twice (HTML5 named references with and without ';', the longest legacy prefix
 *      ('&notit;' -> '¬it;'), numeric references with the standard's repairs).
 *   3. whitespace_clean: runs of Python's whitespace (str.isspace: also \f, \v, \x1c-\x1f, \x85,
 *      U+A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000; not U+FEFF or U+200B)
 *      -> one space, trimmed; then lower-cased.
 *
 * Written from ftfy's documentation (TextFixerConfig defaults, the fixers' descriptions) and Python's
 * html module's behaviour; checked against ftfy 6.3 on the cases in test/models/tokenizers.
 */
import { HTML_ENTITIES, LEGACY_ENTITY_NAMES } from './html-entities.ts';

/** Python's str.isspace() set, as a character class body. */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, 'gu');
const PY_TRIM = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'gu');

/** Windows-1252's characters for bytes 0x80-0x9f; the five it leaves undefined stay as they are. */
const CP1252_C1 = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';

const hasEntity = (name: string) => Object.hasOwn(HTML_ENTITIES, name);

/** One numeric character reference as the HTML standard (and Python's html.unescape) reads it. */
function numericReference(code: number): string {
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return CP1252_C1[code - 0x80];
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  const noncharacter = (code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe;
  if ((code >= 0x01 && code <= 0x08) || code === 0x0b || (code >= 0x0e && code <= 0x1f) || code === 0x7f || noncharacter) return '';
  return String.fromCodePoint(code);
}

const PY_CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's html.unescape: named references (with ';', or legacy ones without, longest prefix), numeric ones. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF, (whole, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericReference(hex ? parseInt(digits, 16) : Number(digits));
    }
    if (ref.endsWith(';') ? hasEntity(ref.slice(0, -1)) : LEGACY_ENTITY_NAMES.has(ref)) return HTML_ENTITIES[ref.replace(/;$/, '')];
    for (let n = ref.length - 1; n > 1; n--) {
      if (LEGACY_ENTITY_NAMES.has(ref.slice(0, n))) return HTML_ENTITIES[ref.slice(0, n)] + ref.slice(n);
    }
    return whole;
  });
}

let upperCaseEntities: Map<string, string> | undefined;
/** ftfy's all-caps entities: '&EACUTE;' -> 'É' for lower-case names whose capitals mean nothing to HTML. */
function upperCaseEntity(name: string): string | undefined {
  if (!upperCaseEntities) {
    upperCaseEntities = new Map();
    for (const [lower, text] of Object.entries(HTML_ENTITIES)) {
      const upper = lower.toUpperCase();
      if (lower === lower.toLowerCase() && htmlUnescape(`&${upper};`) === `&${upper};`) upperCaseEntities.set(upper, text.toUpperCase());
    }
  }
  return upperCaseEntities.get(name);
}

/** ftfy's unescape_html: only references ending in ';', and a numeric one only when all of it is read. */
function ftfyUnescape(text: string): string {
  return text.replace(/&#?[0-9A-Za-z]{1,24};/g, (ref) => {
    const name = ref.slice(1, -1);
    if (hasEntity(name)) return HTML_ENTITIES[name];
    const upper = upperCaseEntity(name);
    if (upper !== undefined) return upper;
    if (ref.startsWith('&#')) {
      const out = htmlUnescape(ref);
      return out.includes(';') ? ref : out;
    }
    return ref;
  });
}

/** Latin ligatures and legacy digraphs ftfy splits (not æ or œ, which are meant). */
const LATIN_LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
const splitLigature = (ch: string) => (ch === '\ufb05' ? '\u017ft' : ch.normalize('NFKC'));
/** Full-width and half-width forms (U+FF01-FFEF) to their usual width, and the ideographic space. */
const WIDTH_FORMS = /[\u3000\uff01-\uffef]/g;
const normalWidth = (ch: string) => (ch === '\u3000' ? ' ' : ch.normalize('NFKC'));
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal escapes is what this does
const TERMINAL_ESCAPE = /\x1b\[[\d;]*[a-zA-Z]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing invisible control characters is what this does
const INVISIBLE_CONTROLS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

/** One pass of ftfy's fixers over a segment, in ftfy's order. */
function ftfyPass(segment: string, unescapeEntities: boolean): string {
  let s = unescapeEntities ? ftfyUnescape(segment) : segment;
  s = s.replace(/[\x80-\x9f]/g, (ch) => CP1252_C1[ch.charCodeAt(0) - 0x80]);
  s = s.replace(LATIN_LIGATURES, splitLigature);
  s = s.replace(WIDTH_FORMS, normalWidth);
  s = s.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"');
  s = s.replace(/\r\n|[\r\u2028\u2029\x85]/g, '\n');
  s = s.replace(LONE_SURROGATE, '\ufffd');
  s = s.replace(TERMINAL_ESCAPE, '');
  s = s.replace(INVISIBLE_CONTROLS, '');
  return s.normalize('NFC');
}

/** ftfy.fix_text with its defaults, less mojibake repair (see the header). */
export function fixText(text: string): string {
  let out = '';
  let unescapeEntities = true;
  for (const segment of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    if (segment.includes('<')) unescapeEntities = false;
    let s = segment;
    for (let prev = ''; prev !== s; ) [prev, s] = [s, ftfyPass(s, unescapeEntities)];
    out += s;
  }
  return out;
}

/** The text as CLIP sees it before splitting into pieces. */
export function cleanText(text: string): string {
  const basic = htmlUnescape(htmlUnescape(fixText(text))).replace(PY_TRIM, '');
  return basic.replace(PY_WHITESPACE_RUN, ' ').replace(PY_TRIM, '').toLowerCase();
}
