/**
 * datatrove's punctuation sets (src/datatrove/utils/text.py at huggingface/datatrove a649de7), in a module of their
 * own so that the tokenizer can precompute per-word facts with them; datatrove-text.ts re-exports them.
 */
// Written out from text.py's PUNCTUATION (ASCII and CJK punctuation plus the control characters 0-8, 11-31 and
// 127-159) and TERMINAL_PUNCTUATION.
export const DATATROVE_PUNCTUATION = "!/\u2014\u201d:\uff05\uff11\u3008&(\u3001\u2501\\\u3010#%\u300c\u300d\uff0c\u3011\uff1b+^]~\u201c\u300a\u201e';\u2019{|\u2236\u00b4[=-`*\uff0e\uff08\u2013\uff1f\uff01\uff1a$\uff5e\u00ab\u3009,><\u300b)?\uff09\u3002\u2026@_.\"}\u25ba\u00bb\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f"
export const DATATROVE_TERMINAL_PUNCTUATION: ReadonlyArray<string> = ["!", ".", "?", "\u0589", "\u061d", "\u061e", "\u061f", "\u06d4", "\u0700", "\u0701", "\u0702", "\u07f9", "\u0837", "\u0839", "\u083d", "\u083e", "\u0964", "\u0965", "\u104a", "\u104b", "\u1362", "\u1367", "\u1368", "\u166e", "\u1735", "\u1736", "\u17d4", "\u17d5", "\u17d6", "\u17d9", "\u17da", "\u1803", "\u1809", "\u1944", "\u1945", "\u1aa8", "\u1aa9", "\u1aaa", "\u1aab", "\u1b5a", "\u1b5b", "\u1b5e", "\u1b5f", "\u1b7d", "\u1b7e", "\u1c3b", "\u1c3c", "\u1c7e", "\u1c7f", "\u203c", "\u203d", "\u2047", "\u2048", "\u2049", "\u2e2e", "\u2e3c", "\u2e53", "\u2e54", "\u3002", "\ua4ff", "\ua60e", "\ua60f", "\ua6f3", "\ua6f7", "\ua876", "\ua877", "\ua8ce", "\ua8cf", "\ua92f", "\ua9c8", "\ua9c9", "\uaa5d", "\uaa5e", "\uaa5f", "\uaaf0", "\uaaf1", "\uabeb", "\ufe52", "\ufe56", "\ufe57", "\uff01", "\uff0e", "\uff1f", "\uff61", "\ud802\ude56", "\ud802\ude57", "\ud803\udf55", "\ud803\udf56", "\ud803\udf57", "\ud803\udf58", "\ud803\udf59", "\ud803\udf86", "\ud803\udf87", "\ud803\udf88", "\ud803\udf89", "\ud804\udc47", "\ud804\udc48", "\ud804\udcbe", "\ud804\udcbf", "\ud804\udcc0", "\ud804\udcc1", "\ud804\udd41", "\ud804\udd42", "\ud804\udd43", "\ud804\uddc5", "\ud804\uddc6", "\ud804\uddcd", "\ud804\uddde", "\ud804\udddf", "\ud804\ude38", "\ud804\ude39", "\ud804\ude3b", "\ud804\ude3c", "\ud804\udea9", "\ud805\udc4b", "\ud805\udc4c", "\ud805\uddc2", "\ud805\uddc3", "\ud805\uddc9", "\ud805\uddca", "\ud805\uddcb", "\ud805\uddcc", "\ud805\uddcd", "\ud805\uddce", "\ud805\uddcf", "\ud805\uddd0", "\ud805\uddd1", "\ud805\uddd2", "\ud805\uddd3", "\ud805\uddd4", "\ud805\uddd5", "\ud805\uddd6", "\ud805\uddd7", "\ud805\ude41", "\ud805\ude42", "\ud805\udf3c", "\ud805\udf3d", "\ud805\udf3e", "\ud806\udd44", "\ud806\udd46", "\ud806\ude42", "\ud806\ude43", "\ud806\ude9b", "\ud806\ude9c", "\ud807\udc41", "\ud807\udc42", "\ud807\udef7", "\ud807\udef8", "\ud807\udf43", "\ud807\udf44", "\ud81a\ude6e", "\ud81a\ude6f", "\ud81a\udef5", "\ud81a\udf37", "\ud81a\udf38", "\ud81a\udf44", "\ud81b\ude98", "\ud82f\udc9f", "\ud836\ude88"]

const toSet = (chars: Iterable<string>) => new Set<number>(Array.from(chars, (c) => c.codePointAt(0)!))
/** PUNCTUATION_SET = set(PUNCTUATION) ∪ TERMINAL_PUNCTUATION, as code points. */
export const PUNCTUATION_SET: ReadonlySet<number> = toSet([...Array.from(DATATROVE_PUNCTUATION), ...DATATROVE_TERMINAL_PUNCTUATION])
export const TERMINAL_PUNCTUATION_SET: ReadonlySet<number> = toSet(DATATROVE_TERMINAL_PUNCTUATION)
export const PUNCTUATION_ONLY: ReadonlySet<number> = toSet(Array.from(DATATROVE_PUNCTUATION))

/** `any(ch not in PUNCTUATION_SET for ch in w)`: the word has a character that is not punctuation. */
export const hasNonPunctuation = (w: string): boolean => {
  for (const ch of w) if (!PUNCTUATION_SET.has(ch.codePointAt(0)!)) return true
  return false
}

/** `line.endswith(tuple(TERMINAL_PUNCTUATION))`: every member is one code point. */
export const endsWithTerminalPunctuation = (line: string): boolean => {
  if (line.length === 0) return false
  const last = line.codePointAt(line.length - 1)!
  const cp = last >= 0xdc00 && last <= 0xdfff && line.length >= 2 ? line.codePointAt(line.length - 2)! : last
  return TERMINAL_PUNCTUATION_SET.has(cp)
}
