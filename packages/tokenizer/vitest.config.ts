import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/tokenizer", import.meta.url);
