// opencc-js ships types/full.d.ts, but it imports "./core" without an extension,
// which NodeNext cannot resolve, so every type in it becomes `any`. This ambient
// declaration replaces it with what this package uses.
declare module "opencc-js" {
  /** OpenCC locales: `cn` Mainland Simplified, `t` OpenCC Traditional, `tw`/`twp` Taiwan, `hk` Hong Kong, `jp` Japanese Shinjitai. */
  type Locale = "cn" | "t" | "tw" | "twp" | "hk" | "jp";
  /** Build a converter from one locale's script to another's (phrase-level, longest match). */
  export function Converter(options: { from: Locale; to: Locale }): (text: string) => string;
}
