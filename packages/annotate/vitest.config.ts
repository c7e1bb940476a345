import { packageVitestConfig } from "../../vitest.shared.js";

export default packageVitestConfig("@batgpt/annotate", import.meta.url);
