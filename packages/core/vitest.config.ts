import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/core", import.meta.url);
