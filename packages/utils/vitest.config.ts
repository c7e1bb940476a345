import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/utils", import.meta.url);
