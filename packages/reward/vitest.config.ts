import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/reward", import.meta.url);
