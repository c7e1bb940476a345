import { Converter } from "opencc-js";

/** The script Chinese text is written in. */
export type Script = "simplified" | "traditional";

/** A function that rewrites Chinese text into one script. */
export type ScriptConverter = (text: string) => string;

const cache = new Map<string, ScriptConverter>();

/**
 * A converter from text written in `from` to text written in `to` (OpenCC:
 * Traditional `t` ⇄ Mainland Simplified `cn`, with phrase-level rules such as
 * 皇后 / 後面). Converters are built once and cached; `from === to` gives the identity.
 */
export function scriptConverter(from: Script, to: Script): ScriptConverter {
  if (from === to) return (text) => text;
  const key = `${from}>${to}`;
  let conv = cache.get(key);
  if (conv === undefined) {
    conv = from === "traditional" ? Converter({ from: "t", to: "cn" }) : Converter({ from: "cn", to: "t" });
    cache.set(key, conv);
  }
  return conv;
}

/**
 * The converter for a collection shipped in `shipped` script when `target` is wanted.
 * Simplified output always runs Traditional→Simplified, because collections marked
 * Simplified still hold some Traditional characters (the conversion leaves
 * Simplified text as it is). Traditional output keeps Traditional collections
 * verbatim and converts the Simplified ones.
 */
export function converterFor(shipped: Script, target: Script): ScriptConverter {
  if (target === "simplified") return scriptConverter("traditional", "simplified");
  return scriptConverter(shipped, "traditional");
}
