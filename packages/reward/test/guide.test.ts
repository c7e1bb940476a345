import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { testGuide } from "../../../scripts/readme-example.js";

testGuide(dirname(fileURLToPath(import.meta.url)), "reward.md", 1, "comparisons judged by a function, a reward model trained on them");
