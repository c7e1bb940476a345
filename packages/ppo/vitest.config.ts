import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/ppo", import.meta.url);
