import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { testGuide } from "../../../scripts/readme-example.js";

testGuide(dirname(fileURLToPath(import.meta.url)), "extending.md", 3, "a head with a new loss, per-token log-probs, a direction scheme");
