// The web page of trm serve in a real browser (headless Chromium, driven by playwright-core):
// load it, type a Sudoku into the grid, press Solve, wait for the replay of the supervision steps
// to end, and check the answer shown against `trm solve --json` on the same checkpoint.
// Also: a malformed pasted puzzle shows an error, and an ARC task file shows its test input and
// says that solving it needs an ARC model. Run by tests/browser_page.sh (docs/VISUALS.md).
//
//   node page_test.mjs URL PUZZLE EXPECTED_JSON SCREENSHOT.png
//     PUZZLE: n*n characters, '.' for blanks; EXPECTED_JSON: the output of trm solve --json.
import { chromium } from 'playwright-core';

const [url, puzzle, expectedJson, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error('usage: node page_test.mjs URL PUZZLE EXPECTED_JSON SCREENSHOT.png');
  process.exit(2);
}
const expected = JSON.parse(expectedJson);
// "1 2 3 4\n3 4 1 2\n..." -> [1,2,3,4,3,4,1,2,...] with '.' (a blank) as 0. An untrained model may
// answer a padding token, which the CLI prints as '?' and the /v1 grid sends as the blank value
// (src/serve/model_info.cpp grid_json): both read as 0 here.
const cellValue = (ch) => (ch === '.' || ch === '' || ch === '?' ? 0 : Number(ch));
const expectedCells = expected.solution.trim().split(/\s+/).join('').split('').map(cellValue);
const n = Math.round(Math.sqrt(puzzle.length));

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const offsite = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) offsite.push(r.url()); });

  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  check((await page.locator('#model option').count()) >= 1, 'the model list comes from GET /v1/models');

  // A malformed paste is refused with a message, not sent.
  await page.fill('#sudoku-text', 'x'.repeat(n * n));
  await page.click('#sudoku-paste');
  check((await page.getAttribute('#message', 'class')) === 'error' && /unexpected character/.test(await page.textContent('#message')),
    'a malformed pasted puzzle shows an error');

  // Type the puzzle into the grid, cell by cell, as a user would.
  await page.click('#sudoku-clear');
  for (let i = 0; i < n * n; i++) {
    const ch = puzzle[i];
    if (ch === '.' || ch === '0') continue;
    await page.locator(`#input-board [data-r="${Math.floor(i / n)}"][data-c="${i % n}"]`).fill(ch);
  }
  const typed = await page.$$eval('#input-board .cell', (els) => els.map((e) => e.value || '.').join(''));
  check(typed === puzzle, `the grid holds the typed puzzle (${typed})`);
  await page.$eval('#speed', (el) => { el.value = '150'; el.dispatchEvent(new Event('input')); });

  // Solve, and watch the steps: the board is replayed before it is done.
  await page.click('#solve');
  await page.waitForSelector('#answer-board[data-state="animating"], #answer-board[data-state="done"]', { timeout: 30000 });
  await page.waitForSelector('#answer-board[data-state="done"]', { timeout: 30000 });
  const shown = (await page.$$eval('#answer-board .cell', (els) => els.map((e) => e.textContent))).map(cellValue);
  check(JSON.stringify(shown) === JSON.stringify(expectedCells),
    `the answer shown (${shown.join('')}) is trm solve's (${expectedCells.join('')})`);
  const steps = Number(await page.textContent('#r-steps'));
  check(steps === expected.steps_used, `steps shown (${steps}) = trm solve's steps_used (${expected.steps_used})`);
  check((await page.locator('#steps-strip button').count()) === expected.steps_used, 'one step button per supervision step');
  const label = await page.textContent('#step-label');
  check(label === `step ${steps} of ${steps}`, `the last step is on show (${label})`);
  const verified = await page.textContent('#r-verified');
  check(expected.valid === true ? verified.includes('yes') : expected.valid === false ? verified.includes('no') : verified.includes('no checker'),
    `verified shown as trm solve says (${expected.valid}): ${verified}`);
  const bar = await page.$eval('#confidence-bar', (el) => parseFloat(el.style.width));
  check(Math.abs(bar / 100 - expected.confidence) < 0.01, `the confidence bar (${bar}%) is the final confidence (${expected.confidence.toFixed(3)})`);
  check(/ms compute/.test(await page.textContent('#r-timing')), 'the timing is shown');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);

  // Going back a step from the strip shows that step's grid.
  if (steps > 1) {
    await page.click('#steps-strip button >> nth=0');
    check((await page.textContent('#step-label')) === `step 1 of ${steps}`, 'a step button shows that step');
  }

  // An ARC task: its test input is drawn, and the page says what solving it needs.
  await page.click('.tab[data-tab="arc"]');
  const task = { train: [{ input: [[1, 0], [0, 1]], output: [[2, 0], [0, 2]] }], test: [{ input: [[1, 1, 0], [0, 3, 0]] }] };
  await page.setInputFiles('#arc-file', { name: 'task.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(task)) });
  await page.waitForFunction(() => document.querySelectorAll('#input-board .cell').length === 6);
  check(/needs an ARC model/.test(await page.textContent('#arc-note')) && (await page.isDisabled('#solve')),
    'an ARC task without an ARC model: a clear message, Solve disabled');

  check(errors.length === 0, `no errors in the page (${errors.join('; ')})`);
  check(offsite.length === 0, `nothing loaded from elsewhere (${offsite.join(', ')})`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`page_test: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('page_test: all checks passed');
