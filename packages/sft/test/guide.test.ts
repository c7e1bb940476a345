import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { testGuide } from "../../../scripts/readme-example.js";

testGuide(dirname(fileURLToPath(import.meta.url)), "sft.md", 1, "a packed SFT run");
