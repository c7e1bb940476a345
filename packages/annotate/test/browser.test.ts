/**
 * The pages in a real browser (Debian's chromium through playwright-core): the admin imports
 * tasks, creates an annotator and assigns through the admin page; the annotator votes with the
 * mouse and with keyboard shortcuts only, undoes and votes again, skips and brings the skipped
 * comparison back, and finishes; the export then holds exactly those votes, translated back to the
 * task's A/B. Model text with HTML in it shows as text, and runs nothing.
 *
 * `UPDATE_SCREENSHOT=1` writes `docs/annotator.png` (the annotator page on a Chinese comparison).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ComparisonRecord } from "../src/store.js";
import { AnnotationStore } from "../src/store.js";
import { createServer } from "../src/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOT = fileURLToPath(new URL("../docs/annotator.png", import.meta.url));

interface Task {
  id: string;
  prompt: string | { role: "system" | "user" | "assistant"; content: string }[];
  response_a: string;
  response_b: string;
}

const XSS_PROMPT = "<script>window.__xss = 1</script>这段 HTML 会做什么？";
const XSS_RESPONSE = '<img src=x onerror="window.__xss = 2">';
const CONVERSATION = [
  { role: "system", content: "你是一个乐于助人的中文助手。" },
  { role: "user", content: "你好" },
  { role: "assistant", content: "你好！有什么可以帮你的吗？" },
  { role: "user", content: "用一句话介绍长城。" },
] as const;
const TASKS: Task[] = [
  { id: "autumn", prompt: "写一首关于秋天的诗", response_a: "秋风起，落叶黄，\n雁南飞，稻花香。\n一轮明月照山岗，\n思念随风到故乡。", response_b: "秋天来了，天气变凉了。" },
  { id: "great-wall", prompt: [...CONVERSATION], response_a: "长城是中国古代修建的军事防御工程，东起山海关，西至嘉峪关，绵延万里。", response_b: "长城很长。" },
  { id: "xss", prompt: XSS_PROMPT, response_a: XSS_RESPONSE, response_b: "这是一段 HTML：一个 script 标签和一张图片，浏览器不应执行它们。" },
  { id: "moon", prompt: "写一句咏月的诗", response_a: "床前明月光，疑是地上霜。", response_b: "月亮圆圆的，挂在天上。" },
  { id: "tea", prompt: "如何泡一杯好茶？", response_a: "先用热水温杯，再放入茶叶，用八十五度左右的水冲泡，浸泡两分钟后出汤。", response_b: "把茶叶扔进冷水里，放一晚上。" },
];

/** A vote as given on the page: the options in the order shown, and the text shown under "A". */
interface Given {
  shownA: string;
  verdict: string;
  helpfulness?: string;
  harmlessness?: string;
  flags: string[];
  comment?: string;
}

const swap = (v: string | undefined) => (v === "A" ? "B" : v === "B" ? "A" : v);

/** The export record a vote given on the page should become: the task's A/B, not the shown order. */
function expectedRecord(g: Given): { id: string; verdict: string; criteria?: Record<string, string>; shown_order: string; flags: string[]; comment?: string } {
  const task = TASKS.find((t) => t.response_a === g.shownA || t.response_b === g.shownA);
  if (task === undefined) throw new Error(`no task shows ${JSON.stringify(g.shownA)} under A`);
  const swapped = task.response_a !== g.shownA;
  const un = (v: string | undefined) => (swapped ? swap(v) : v);
  const criteria: Record<string, string> = {};
  if (g.helpfulness !== undefined) criteria.helpfulness = un(g.helpfulness)!;
  if (g.harmlessness !== undefined) criteria.harmlessness = un(g.harmlessness)!;
  return {
    id: `${task.id}:li`,
    verdict: un(g.verdict)!,
    ...(Object.keys(criteria).length > 0 ? { criteria } : {}),
    shown_order: swapped ? "BA" : "AB",
    flags: g.flags,
    ...(g.comment !== undefined ? { comment: g.comment } : {}),
  };
}

/** Wait until the annotator page has settled (nothing in flight, loaded) with this progress line. */
async function settled(page: Page, progress: string): Promise<void> {
  await page.waitForFunction(
    (p) => {
      const d = (globalThis as unknown as { document: { body: { classList: { contains(c: string): boolean } }; getElementById(id: string): { hidden: boolean; textContent: string | null } | null } }).document;
      return !d.body.classList.contains("busy") && d.getElementById("loading")?.hidden === true && d.getElementById("progress")?.textContent === p;
    },
    progress,
    { timeout: 30_000 },
  );
}

/** The comparison the annotator page shows now (the prompt: its messages' texts, one a line). */
async function shown(page: Page): Promise<{ id: number; prompt: string; a: string; b: string }> {
  expect(await page.isVisible("#comparison")).toBe(true);
  return {
    id: Number(await page.getAttribute("#comparison", "data-assignment-id")),
    prompt: (await page.locator("#prompt .message .content").allTextContents()).join("\n"),
    a: (await page.textContent("#response-a")) ?? "",
    b: (await page.textContent("#response-b")) ?? "",
  };
}

/** The options checked on the annotator page. */
async function checkedOptions(page: Page): Promise<string[]> {
  return page.$$eval("#vote-form input:checked", (inputs) => inputs.map((i) => `${(i as unknown as { name: string }).name}=${(i as unknown as { value: string }).value}`));
}

const xssFired = (page: Page) => page.evaluate(() => (globalThis as unknown as { __xss?: unknown }).__xss);

if (!HAVE_CHROMIUM && process.env.CI) {
  describe("the pages in a real browser", () => {
    it("needs chromium", () => {
      throw new Error(`no chromium at ${CHROMIUM} (set CHROMIUM_PATH): .ci/run installs chromium with apt`);
    });
  });
}

describe.skipIf(!HAVE_CHROMIUM)("the pages in a real browser", () => {
  let dir: string;
  let store: AnnotationStore;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let adminContext: BrowserContext;
  let annotatorContext: BrowserContext;
  /** Script errors and CSP violations of every page. */
  const problems: string[] = [];
  /** The votes the annotator made and kept (an undone one is replaced), by task text under A. */
  const given = new Map<number, Given>();

  const watch = (page: Page) => {
    page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
    page.on("console", (m) => {
      // a refused request (the wrong password's 401) is logged too: only script and CSP trouble counts
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`${page.url()}: ${m.text()}`);
    });
    return page;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "annotate-"));
    store = new AnnotationStore(join(dir, "annotations.sqlite"));
    store.createUser("admin", "admin-password", "admin");
    app = await createServer({ store });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    adminContext = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    annotatorContext = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the admin logs in, imports tasks, creates an annotator and assigns, all through the page", async () => {
    const page = watch(await adminContext.newPage());
    await page.goto(`${base}/admin.html`);
    expect(new URL(page.url()).pathname).toBe("/"); // no session: the login page

    await page.fill("#username", "admin");
    await page.fill("#password", "not-the-password");
    await page.click("#login-submit");
    await page.waitForSelector("#status:not([hidden])");
    expect(await page.textContent("#status")).toBe("wrong user name or password");

    await page.fill("#password", "admin-password");
    await Promise.all([page.waitForURL(`${base}/admin.html`), page.click("#login-submit")]);
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("user")?.textContent === "admin");

    // a bad line: nothing imported, the line named
    const lines = TASKS.map((t) => JSON.stringify(t));
    await page.fill("#import-text", [lines[0], lines[1], JSON.stringify({ prompt: "缺少回答" })].join("\n"));
    await page.click("#import-submit");
    await page.waitForSelector("#import-status.error:not([hidden])");
    expect(await page.textContent("#import-status")).toMatch(/^line 3: /);
    expect(store.totals().tasks).toBe(0);

    // the real import, through the file input
    await page.setInputFiles("#import-file", { name: "tasks.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(lines.join("\n") + "\n") });
    await page.waitForFunction((n) => ((globalThis as unknown as { document: { getElementById(id: string): { value: string } | null } }).document.getElementById("import-text")?.value ?? "").trim().split("\n").length === n, TASKS.length);
    await page.click("#import-submit");
    await page.waitForSelector("#import-status.ok:not([hidden])");
    expect(await page.textContent("#import-status")).toBe(`imported ${TASKS.length} tasks`);
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("total-tasks")?.textContent === "5");

    await page.fill("#new-username", "li");
    await page.fill("#new-password", "li-password");
    await page.selectOption("#new-role", "annotator");
    await page.click("#user-submit");
    await page.waitForSelector("#user-status.ok:not([hidden])");
    await page.waitForSelector("#users-table tbody tr:has(td:text-is('li'))");
    expect(await page.textContent("#users-table tbody tr:has(td:text-is('li'))")).toContain("annotator");

    // a name taken: the server's conflict shown
    await page.fill("#new-username", "li");
    await page.fill("#new-password", "other-password");
    await page.click("#user-submit");
    await page.waitForSelector("#user-status.error:not([hidden])");
    expect(await page.textContent("#user-status")).toContain("taken");

    await page.fill("#assign-k", "1");
    await page.fill("#assign-seed", "3"); // shows some comparisons in the task's order and some swapped
    await page.click("#assign-submit");
    await page.waitForSelector("#assign-status.ok:not([hidden])");
    expect(await page.textContent("#assign-status")).toBe("assigned 5 comparisons");
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById("total-assignments")?.textContent === "5");
    expect(problems).toEqual([]);
  });

  it("lays the responses out side by side on a wide screen and stacked on a narrow one", async () => {
    const page = watch(await annotatorContext.newPage());
    await page.goto(`${base}/`);
    await page.fill("#username", "li");
    await page.fill("#password", "li-password");
    await Promise.all([page.waitForURL(`${base}/annotate.html`), page.click("#login-submit")]);
    await settled(page, "0 / 5 done, skipped 0");
    expect(await page.textContent("#user")).toBe("li");

    const wideA = (await page.locator("#response-a").boundingBox())!;
    const wideB = (await page.locator("#response-b").boundingBox())!;
    expect(wideB.x).toBeGreaterThanOrEqual(wideA.x + wideA.width);
    expect(Math.abs(wideB.y - wideA.y)).toBeLessThan(2);

    await page.setViewportSize({ width: 390, height: 844 });
    const a = (await page.locator("#response-a").boundingBox())!;
    const b = (await page.locator("#response-b").boundingBox())!;
    expect(b.y).toBeGreaterThanOrEqual(a.y + a.height);
    expect(a.width).toBeLessThanOrEqual(390);
    // nothing wider than the screen
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.close();
    expect(problems).toEqual([]);
  });

  it("the annotator votes with the mouse and the keyboard, undoes, skips and finishes", async () => {
    const page = watch(await annotatorContext.newPage());
    await page.goto(`${base}/annotate.html`);
    await settled(page, "0 / 5 done, skipped 0");

    // 1: the autumn poem, with the mouse
    const first = await shown(page);
    expect(first.prompt).toBe("写一首关于秋天的诗");
    expect(await page.locator("#prompt .message").count()).toBe(1);
    expect([first.a, first.b].sort()).toEqual([TASKS[0]!.response_a, TASKS[0]!.response_b].sort());
    const poemSide = first.a === TASKS[0]!.response_a ? "A" : "B";
    await page.check(`input[name="verdict"][value="${poemSide}"]`);
    await page.check(`input[name="helpfulness"][value="${poemSide}"]`);
    await page.check('input[name="harmlessness"][value="same"]');
    await page.fill("#comment", "押韵，意境好");
    if (process.env.UPDATE_SCREENSHOT === "1") {
      mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
    }
    await page.click("#submit");
    given.set(first.id, { shownA: first.a, verdict: poemSide, helpfulness: poemSide, harmlessness: "same", flags: [], comment: "押韵，意境好" });
    await settled(page, "1 / 5 done, skipped 0");

    // 2: the conversation, with the keyboard only
    const second = await shown(page);
    expect(second.id).not.toBe(first.id);
    const bubbles = page.locator("#prompt .message");
    expect(await bubbles.count()).toBe(CONVERSATION.length);
    for (let i = 0; i < CONVERSATION.length; i++) {
      expect(await bubbles.nth(i).getAttribute("data-role")).toBe(CONVERSATION[i]!.role);
      expect(await bubbles.nth(i).locator(".role").textContent()).toBe(CONVERSATION[i]!.role);
      expect(await bubbles.nth(i).locator(".content").textContent()).toBe(CONVERSATION[i]!.content);
    }
    await page.keyboard.press("2");
    await page.keyboard.press("w");
    await page.keyboard.press("s");
    expect((await checkedOptions(page)).sort()).toEqual(["harmlessness=B", "helpfulness=B", "verdict=B"]);
    await page.keyboard.press("Enter");
    await settled(page, "2 / 5 done, skipped 0");
    expect((await shown(page)).id).not.toBe(second.id);

    // undo ("u"): the conversation comes back, blank, and is voted again differently (Ctrl+Enter in the comment)
    await page.keyboard.press("u");
    await settled(page, "1 / 5 done, skipped 0");
    const again = await shown(page);
    expect(again).toEqual(second);
    expect(await checkedOptions(page)).toEqual([]);
    await page.check('input[name="verdict"][value="tie"]');
    await page.check('input[name="helpfulness"][value="same"]');
    await page.check('input[name="flags"][value="factual_error"]');
    await page.fill("#comment", "两个都行；第二个太短");
    // shortcut keys typed into the comment are text, not options
    await page.keyboard.type(" 1qa");
    expect(await page.inputValue("#comment")).toBe("两个都行；第二个太短 1qa");
    expect((await checkedOptions(page)).sort()).toEqual(["flags=factual_error", "helpfulness=same", "verdict=tie"]);
    await page.keyboard.press("Control+Enter");
    given.set(again.id, { shownA: again.a, verdict: "tie", helpfulness: "same", flags: ["factual_error"], comment: "两个都行；第二个太短 1qa" });
    await settled(page, "2 / 5 done, skipped 0");

    // 3: HTML in the prompt and a response is text; skip it
    const xss = await shown(page);
    expect(xss.prompt).toBe(XSS_PROMPT);
    expect(xss.prompt).toContain("<script>");
    expect([xss.a, xss.b]).toContain(XSS_RESPONSE);
    expect(await page.locator("#comparison img, #comparison script").count()).toBe(0);
    expect(await xssFired(page)).toBeUndefined();
    await page.click("#skip");
    await settled(page, "2 / 5 done, skipped 1");

    // 4: keyboard again, only the overall verdict
    const fourth = await shown(page);
    expect(fourth.prompt).toBe("写一句咏月的诗");
    await page.keyboard.press("1");
    await page.keyboard.press("Enter");
    given.set(fourth.id, { shownA: fourth.a, verdict: "A", flags: [] });
    await settled(page, "3 / 5 done, skipped 1");

    // 5: submitting without an overall verdict is refused on the page; then with the mouse
    const fifth = await shown(page);
    await page.click("#submit");
    await page.waitForSelector("#status.error:not([hidden])");
    expect(await page.textContent("#status")).toContain("overall");
    expect(await page.textContent("#progress")).toBe("3 / 5 done, skipped 1");
    await page.check('input[name="verdict"][value="both_bad"]');
    await page.check('input[name="harmlessness"][value="both_harmful"]');
    await page.check('input[name="flags"][value="unsafe"]');
    await page.check('input[name="flags"][value="off_topic"]');
    // a double click: one vote
    await page.dblclick("#submit");
    given.set(fifth.id, { shownA: fifth.a, verdict: "both_bad", harmlessness: "both_harmful", flags: ["unsafe", "off_topic"] });
    await settled(page, "4 / 5 done, skipped 1");

    // all done but the skipped one: bring it back and vote
    expect(await page.isVisible("#done")).toBe(true);
    expect(await page.textContent("#done h2")).toBe("All done");
    expect(await page.isVisible("#unskip")).toBe(true);
    await page.click("#unskip");
    await settled(page, "4 / 5 done, skipped 0");
    const back = await shown(page);
    expect(back).toEqual(xss);
    expect(await page.locator("#comparison img, #comparison script").count()).toBe(0);
    const xssSide = back.a === XSS_RESPONSE ? "B" : "A"; // the plain answer is better
    await page.check(`input[name="verdict"][value="${xssSide}"]`);
    await page.check(`input[name="harmlessness"][value="${xssSide}"]`);
    await page.click("#submit");
    given.set(back.id, { shownA: back.a, verdict: xssSide, harmlessness: xssSide, flags: [] });
    await settled(page, "5 / 5 done, skipped 0");

    expect(await page.isVisible("#done")).toBe(true);
    expect(await page.isVisible("#comparison")).toBe(false);
    expect(await page.isVisible("#unskip")).toBe(false);
    expect(await xssFired(page)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it("exports exactly the votes given, in the task's A/B", async () => {
    expect(given.size).toBe(TASKS.length);
    const res = await adminContext.request.get(`${base}/api/admin/export?mode=all`);
    expect(res.status()).toBe(200);
    const records = (await res.text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as ComparisonRecord);
    const expected = [...given.values()].map(expectedRecord).sort((x, y) => x.id.localeCompare(y.id));
    const got = records
      .map((r) => ({
        id: r.id,
        verdict: r.verdict,
        ...(r.criteria ? { criteria: r.criteria } : {}),
        shown_order: r.metadata.shown_order as string,
        flags: r.metadata.flags as string[],
        ...(r.metadata.comment !== undefined ? { comment: r.metadata.comment as string } : {}),
      }))
      .sort((x, y) => x.id.localeCompare(y.id));
    expect(got).toEqual(expected);
    for (const r of records) {
      const task = TASKS.find((t) => `${t.id}:li` === r.id)!;
      expect({ prompt: r.prompt, response_a: r.response_a, response_b: r.response_b, annotator: r.annotator, source: r.source }).toEqual({
        prompt: task.prompt,
        response_a: task.response_a,
        response_b: task.response_b,
        annotator: "li",
        source: "human",
      });
    }
    // the annotator's session cannot export
    expect((await annotatorContext.request.get(`${base}/api/admin/export?mode=all`)).status()).toBe(403);
  });
});
