import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/eval", import.meta.url);
