/**
 * A voter for the crash test: opens the store, then votes as fast as it can, writing the request
 * id of each vote to stdout only after `vote` has returned (the acknowledgement), until killed.
 */
import { AnnotationStore } from "../src/index.js";

const [file, userArg] = process.argv.slice(2);
const store = new AnnotationStore(file!);
const user = Number(userArg);
let n = 0;
for (;;) {
  const c = store.next(user);
  if (c === undefined) break;
  const requestId = `crash-${user}-${++n}`.padEnd(12, "x");
  store.vote(user, c.assignmentId, { requestId, verdict: n % 2 ? "A" : "B" });
  process.stdout.write(`${requestId}\n`);
}
process.stdout.write("done\n");
