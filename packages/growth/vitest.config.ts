import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/growth", import.meta.url);
