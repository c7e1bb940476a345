import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/sft", import.meta.url);
