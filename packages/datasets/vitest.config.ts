import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/datasets", import.meta.url);
